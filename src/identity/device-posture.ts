import { createHash } from 'node:crypto';
import type { ZtgateConfig } from '../config/index.js';
import {
  AuthenticationError,
  type AttributeValue,
  type Credentials,
  type Device,
  type Principal,
} from '../core/index.js';
import { boundedString, optionalString } from './claims.js';
import { JwtRejected, JwtUnverifiable, parseCompactJws, type Claims } from './jwt-checks.js';
import { RemoteKeys, verifyJws } from './oidc-issuer.js';
import { tokenHash, VerifiedTokenCache } from './token-cache.js';

/**
 * Device posture: a device-trust service (MDM/EDR) signs a short-lived JWT about the device, and
 * the client sends it in a header (default `x-device-posture`). It is accepted when it is signed
 * by the configured service (`iss`, `aud`, allowed algorithms, same pre-checks as bearer tokens),
 * fresh (`iat` at most `maxAgeSeconds` old and `exp` not passed) and bound to the caller:
 *
 * - `binding: subject` (default): the assertion's `sub` is the principal's subject; the device is
 *   named by `device_id`.
 * - `binding: cnf`: the assertion's `sub` (or `device_id`) names the device and `cnf` binds it:
 *   `cnf["x5t#S256"]` = base64url SHA-256 of the mTLS client certificate of this connection, and/or
 *   `cnf.sub_hash` = base64url SHA-256 of the principal id (`<issuer>#<subject>`).
 *
 * In either mode a `cnf` that is present must verify, and one with no member we can check
 * (`jkt`, `jwk`, …) does not. Device claims: `managed`, `compliant`, `disk_encrypted`,
 * `edr_running` (booleans), `os`, `os_version` (strings), `patch_age_days` (integer).
 */

export type DevicePostureConfig = ZtgateConfig['identity']['devicePosture'];

/** Why a device is untrusted; the log and `Device.untrustedReason` carry `posture_<reason>`. */
export type PostureReason =
  'missing' | 'malformed' | 'forged' | 'invalid' | 'stale' | 'unbound' | 'unavailable';

export interface DevicePostureOptions {
  readonly config: DevicePostureConfig;
  readonly timeoutMs: number;
  readonly maxTokenBytes: number;
  readonly cacheSize: number;
  readonly now?: () => number;
}

/** Returns the caller's Device (verified or untrusted), or throws a 401/503 AuthenticationError. */
export type DevicePostureCheck = (credentials: Credentials, principal: Principal) => Promise<Device>;

interface VerifiedPosture {
  readonly device: Device;
  readonly sub: string;
  readonly cnf: Claims | undefined;
}

const MAX_PATCH_AGE_DAYS = 36_500;

class PostureFailure extends Error {
  readonly reason: PostureReason;
  constructor(reason: PostureReason, cause?: unknown) {
    super(`posture_${reason}`, cause === undefined ? undefined : { cause });
    this.reason = reason;
  }
}

/** Maps a token-level reason (jwt-checks) to a posture reason. */
function postureReason(reason: string): PostureReason {
  if (reason === 'expired' || reason === 'too_old') return 'stale';
  if (reason === 'wrong_audience' || reason === 'not_yet_valid' || reason === 'iat_in_future')
    return 'invalid';
  if (
    reason.startsWith('malformed') ||
    reason.startsWith('missing_claim') ||
    reason.startsWith('invalid_claim')
  ) {
    return 'malformed';
  }
  if (['jwe_not_accepted', 'header_not_allowed', 'typ_not_allowed'].includes(reason)) return 'malformed';
  return 'forged';
}

function optionalBoolean(claims: Claims, name: string): boolean | undefined {
  const value = claims[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new JwtRejected(`invalid_claim:${name}`);
  return value;
}

function toVerifiedPosture(claims: Claims, binding: DevicePostureConfig['binding']): VerifiedPosture {
  const sub = boundedString(claims.sub, 'sub');
  const deviceId = optionalString(claims.device_id, 'device_id') ?? (binding === 'cnf' ? sub : undefined);
  if (deviceId === undefined) throw new JwtRejected('missing_claim:device_id');
  const cnf = claims.cnf;
  if (cnf !== undefined && (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf))) {
    throw new JwtRejected('invalid_claim:cnf');
  }
  const attributes: Record<string, AttributeValue> = {};
  const os = optionalString(claims.os, 'os');
  if (os !== undefined) attributes.os = os;
  const osVersion = optionalString(claims.os_version, 'os_version');
  if (osVersion !== undefined) attributes.osVersion = osVersion;
  const patchAge = claims.patch_age_days;
  if (patchAge !== undefined && patchAge !== null) {
    if (
      !Number.isSafeInteger(patchAge) ||
      (patchAge as number) < 0 ||
      (patchAge as number) > MAX_PATCH_AGE_DAYS
    ) {
      throw new JwtRejected('invalid_claim:patch_age_days');
    }
    attributes.patchAgeDays = patchAge as number;
  }
  const diskEncrypted = optionalBoolean(claims, 'disk_encrypted');
  if (diskEncrypted !== undefined) attributes.diskEncrypted = diskEncrypted;
  const edrRunning = optionalBoolean(claims, 'edr_running');
  if (edrRunning !== undefined) attributes.edrRunning = edrRunning;
  const device: Device = {
    id: deviceId,
    trust: 'verified',
    managed: optionalBoolean(claims, 'managed') ?? false,
    compliant: optionalBoolean(claims, 'compliant') ?? false,
    attributes,
  };
  return { device, sub, cnf: cnf as Claims | undefined };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/** Checks a `cnf` claim against this connection and principal; false if nothing checkable. */
function confirms(cnf: Claims, credentials: Credentials, principal: Principal): boolean {
  let checked = 0;
  for (const [member, expected] of Object.entries(cnf)) {
    if (member === 'x5t#S256') {
      const cert = credentials.clientCertificate;
      const actual = cert
        ? Buffer.from(cert.fingerprint256.replace(/:/g, ''), 'hex').toString('base64url')
        : '';
      if (typeof expected !== 'string' || actual === '' || actual !== expected) return false;
    } else if (member === 'sub_hash') {
      if (typeof expected !== 'string' || expected !== sha256(principal.id)) return false;
    } else {
      return false;
    }
    checked++;
  }
  return checked > 0;
}

function isBound(
  posture: VerifiedPosture,
  binding: DevicePostureConfig['binding'],
  credentials: Credentials,
  principal: Principal,
): boolean {
  if (posture.cnf !== undefined && !confirms(posture.cnf, credentials, principal)) return false;
  return binding === 'cnf' ? posture.cnf !== undefined : posture.sub === principal.subject;
}

function untrusted(reason: PostureReason): Device {
  return {
    id: 'unknown',
    trust: 'untrusted',
    untrustedReason: `posture_${reason}`,
    managed: false,
    compliant: false,
    attributes: {},
  };
}

/**
 * Builds the posture check from config. Failures go by config: `onInvalid: refuse` → 401
 * `unauthenticated` (log `posture_<reason>`), `untrusted` → an untrusted Device. A missing
 * assertion is an untrusted Device when `required` is false. A service whose keys cannot be
 * fetched → `onUnavailable`: 503 `authentication_unavailable` (default) or an untrusted Device.
 */
export function createDevicePostureCheck(options: DevicePostureOptions): DevicePostureCheck {
  const { config } = options;
  const now = options.now ?? Date.now;
  if (!config.issuer || !config.audience) throw new Error('identity.devicePosture needs issuer and audience');
  const issuer = config.issuer;
  const audience = config.audience;
  const keys = new RemoteKeys({
    issuer,
    jwksUri: config.jwksUri,
    timeoutMs: options.timeoutMs,
    cooldownMs: config.jwksCooldownSeconds * 1000,
    now,
  });
  const cache = new VerifiedTokenCache<VerifiedPosture>(options.cacheSize, now);

  const verify = async (assertion: string): Promise<VerifiedPosture> => {
    const key = tokenHash(assertion);
    const cached = cache.get(key);
    if (cached) return cached;
    try {
      const { header, unverifiedPayload } = parseCompactJws(assertion);
      if (unverifiedPayload.iss !== issuer) throw new JwtRejected('wrong_issuer');
      const nowMs = now();
      const payload = await verifyJws(assertion, header, keys, {
        issuer,
        audience,
        algorithms: config.algorithms,
        clockSkewSeconds: config.clockSkewSeconds,
        requiredClaims: ['exp', 'iat', 'sub'],
        maxAgeSeconds: config.maxAgeSeconds,
        nowMs,
      });
      const posture = toVerifiedPosture(payload, config.binding);
      const freshUntil = Math.min(payload.exp as number, (payload.iat as number) + config.maxAgeSeconds);
      cache.set(key, posture, freshUntil * 1000);
      return posture;
    } catch (err) {
      if (err instanceof JwtUnverifiable) throw new PostureFailure('unavailable', err);
      if (err instanceof JwtRejected) throw new PostureFailure(postureReason(err.reason), err);
      throw err;
    }
  };

  const fail = (failure: PostureFailure): Device => {
    if (failure.reason === 'unavailable') {
      if (config.onUnavailable === 'untrusted') return untrusted('unavailable');
      throw new AuthenticationError('authentication_unavailable', {
        logDetail: failure.message,
        cause: failure.cause,
      });
    }
    if (config.onInvalid === 'untrusted') return untrusted(failure.reason);
    throw new AuthenticationError('unauthenticated', { logDetail: failure.message, cause: failure.cause });
  };

  return async (credentials, principal) => {
    const raw = credentials.headers[config.header];
    if (raw === undefined || raw === '') {
      return config.required ? fail(new PostureFailure('missing')) : untrusted('missing');
    }
    if (typeof raw !== 'string' || raw.length > options.maxTokenBytes)
      return fail(new PostureFailure('malformed'));
    try {
      const posture = await verify(raw);
      if (!isBound(posture, config.binding, credentials, principal)) throw new PostureFailure('unbound');
      return posture.device;
    } catch (err) {
      if (err instanceof PostureFailure) return fail(err);
      throw err;
    }
  };
}
