import type { IssuerConfig } from '../config/index.js';
import {
  AuthenticationError,
  type AuthenticateStage,
  type Credentials,
  type Device,
  type Principal,
} from '../core/index.js';
import { looksLikeApiKey, principalOfApiKey, type ApiKeyVerification } from './api-keys.js';
import { createBearerAuthenticator, type EvictMatch } from './bearer.js';
import { principalOfCertificate, type ClientCertificatePolicy } from './client-certificate.js';
import { createDevicePostureCheck, type DevicePostureConfig } from './device-posture.js';

/**
 * What a revocation check is asked about. Shaped like RevocationQuery (revocation-list.ts), so
 * `(who) => revocationList.isRevoked(who)` can be passed as is.
 */
export interface RevocationSubject {
  /** SHA-256 (hex) of the bearer token, for token credentials. */
  readonly tokenHash?: string;
  readonly jti?: string;
  /** The principal id (`issuer#sub` for OIDC). */
  readonly subject: string;
  readonly sessionId?: string;
  /** Only for a device whose posture was verified. */
  readonly deviceId?: string;
  /** For API-key credentials. */
  readonly apiKeyId?: string;
  /** Hex serial of the verified client certificate, when the connection has one. */
  readonly certificateSerial?: string;
}

export type RevocationPredicate = (who: RevocationSubject) => boolean | { readonly revoked: boolean };

export interface AuthenticatorOptions {
  readonly issuers: readonly IssuerConfig[];
  readonly maxTokenBytes: number;
  readonly tokenCacheSize: number;
  readonly jwksTimeoutMs: number;
  /** `identity.devicePosture`; absent or not enabled: no device is reported. */
  readonly devicePosture?: DevicePostureConfig;
  /** Asked on EVERY request, cached token or not; true → 401 (`revoked`), a throw → 503. */
  readonly isRevoked?: RevocationPredicate;
  /** Service API keys (`ztk_…` bearer tokens); absent: such tokens are refused. */
  readonly apiKeys?: { verify(presented: unknown): Promise<ApiKeyVerification> };
  /** Services identified by their mTLS client certificate (SPIFFE ID); absent: not accepted alone. */
  readonly clientCertificates?: ClientCertificatePolicy;
  readonly now?: () => number;
}

/** The authenticate stage, plus eviction of cached tokens for revocation events. */
export type Authenticator = AuthenticateStage & {
  /** Drops cached verified tokens matching every given field; returns how many. */
  evict(match: EvictMatch): number;
};

/** Who a credential proved the caller to be, with the handles revocation can name it by. */
interface Identity {
  readonly principal: Principal;
  readonly tokenHash?: string;
  readonly jti?: string;
  readonly apiKeyId?: string;
}

function refuseIfRevoked(
  isRevoked: RevocationPredicate,
  identity: Identity,
  device: Device | undefined,
  credentials: Credentials,
): void {
  const { principal } = identity;
  const serial = credentials.clientCertificate?.serialNumber;
  const who: RevocationSubject = {
    subject: principal.id,
    ...(identity.tokenHash === undefined ? {} : { tokenHash: identity.tokenHash }),
    ...(identity.jti === undefined ? {} : { jti: identity.jti }),
    ...(identity.apiKeyId === undefined ? {} : { apiKeyId: identity.apiKeyId }),
    ...(serial === undefined ? {} : { certificateSerial: serial }),
    ...(principal.sessionId === undefined ? {} : { sessionId: principal.sessionId }),
    ...(device?.trust === 'verified' ? { deviceId: device.id } : {}),
  };
  let answer: boolean | { readonly revoked: boolean };
  try {
    answer = isRevoked(who);
  } catch (err) {
    throw new AuthenticationError('authentication_unavailable', {
      logDetail: 'revocation_unavailable',
      cause: err,
    });
  }
  if (answer === true || (typeof answer === 'object' && answer.revoked)) {
    throw new AuthenticationError('unauthenticated', { logDetail: 'revoked' });
  }
}

/**
 * The authenticate stage. One function per credential kind turns credentials into an Identity
 * (bearer JWTs from the configured OIDC issuers, service API keys, mTLS client certificates
 * with an allowed SPIFFE ID); then the device posture, when enabled;
 * then the revocation check, on every request. Anything not accepted → 401 `unauthenticated`
 * with a stable reason in the log; anything we could not check → 503 `authentication_unavailable`.
 */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const now = options.now ?? Date.now;
  const bearer = createBearerAuthenticator({ ...options, now });
  const posture = options.devicePosture?.enabled
    ? createDevicePostureCheck({
        config: options.devicePosture,
        timeoutMs: options.jwksTimeoutMs,
        maxTokenBytes: options.maxTokenBytes,
        cacheSize: options.tokenCacheSize,
        now,
      })
    : undefined;

  const authenticateBearer = (token: string): Promise<Identity> => bearer.verify(token);

  const authenticateApiKey = async (token: string): Promise<Identity> => {
    if (!options.apiKeys)
      throw new AuthenticationError('unauthenticated', { logDetail: 'api_keys_not_accepted' });
    const result = await options.apiKeys.verify(token);
    if (result.ok) return { principal: principalOfApiKey(result.key), apiKeyId: result.key.keyId };
    if (result.reason === 'unavailable') {
      throw new AuthenticationError('authentication_unavailable', {
        logDetail: 'api_key_store_unavailable',
        cause: result.cause,
      });
    }
    throw new AuthenticationError('unauthenticated', { logDetail: `api_key_${result.reason}` });
  };

  const authenticateCertificate = (credentials: Credentials): Identity => {
    const certificate = credentials.clientCertificate;
    if (!certificate || !options.clientCertificates) {
      throw new AuthenticationError('unauthenticated', { logDetail: 'no_credentials' });
    }
    return { principal: principalOfCertificate(certificate, options.clientCertificates) };
  };

  // One credential names the caller: a bearer token (API key or JWT) wins over a client
  // certificate, which still has to be valid at the TLS layer and is checked for revocation.
  const identify = async (credentials: Credentials): Promise<Identity> => {
    const token = credentials.bearer;
    if (token && looksLikeApiKey(token)) return authenticateApiKey(token);
    if (token) return authenticateBearer(token);
    return authenticateCertificate(credentials);
  };

  const stage: AuthenticateStage = async ({ credentials }) => {
    const identity = await identify(credentials);
    const device = posture ? await posture(credentials, identity.principal) : undefined;
    if (options.isRevoked) refuseIfRevoked(options.isRevoked, identity, device, credentials);
    return device ? { principal: identity.principal, device } : { principal: identity.principal };
  };
  return Object.assign(stage, { evict: (match: EvictMatch) => bearer.evict(match) });
}
