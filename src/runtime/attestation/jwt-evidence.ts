// What the JWT evidence verifiers share (dev.ts, azure-attestation.ts, gcp-confidential-space.ts,
// ear.ts): parsing and verifying a compact JWS with a pinned key source, mapping jose's errors to
// the stable AttestationError codes, fetching a service's JWKS, and the nonce binding.
//
// Key selection trusts nothing in the token's header but `kid` (looked up in the pinned JWKS) and
// `alg` (which must be on the verifier's allowlist; never `none`, never HMAC). A header that names
// its own key source (`jwk`, `x5c`, `x5u`) is refused, and so is a `jku` other than the pinned
// JWKS URL (Azure puts `jku` = `<issuer>/certs` in every token; it is tolerated, never fetched).
//
// Nonce binding for attestation-service tokens (the service echoes what the workload asked it to
// include): the 64-byte ZTGATE_BINDING_V1 value of binding.ts (SHA-256 of the nonce ‖ SHA-256 of
// the TLS key digest, or 32 zero bytes when no key is bound), base64url. Either the whole 64 bytes
// in one nonce entry, or the two 32-byte halves as two entries (Confidential Space accepts nonces
// of at most 74 bytes each, up to six of them).
import { timingSafeEqual, X509Certificate, type KeyObject } from 'node:crypto';
import {
  createRemoteJWKSet,
  customFetch,
  decodeProtectedHeader,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  type ProtectedHeaderParameters,
} from 'jose';
import { ZTGATE_BINDING_V1 } from './binding.js';
import {
  AttestationError,
  type AttestationErrorCode,
  type EvidenceKind,
  type ExpectedBinding,
  type ReferenceValues,
} from './types.js';

/** Algorithms a verifier may be configured with (asymmetric only). */
export const ASYMMETRIC_ALGORITHMS: readonly string[] =
  'RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA Ed25519'.split(' ');

const MAX_TOKEN_CHARS = 256 * 1024;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const KEY_SOURCE_HEADERS = ['jwk', 'x5c', 'x5u'] as const;

export type JwtKeySource = JWTVerifyGetKey | KeyObject;

export interface JwtCheck {
  kind: EvidenceKind;
  key: JwtKeySource;
  algorithms: readonly string[];
  /** Pinned issuer (`iss` must equal it). */
  issuer?: string;
  audience?: string | readonly string[];
  /** `jku` header values tolerated (never fetched). */
  allowedJku?: readonly string[];
  requiredClaims: readonly string[];
  /** Maximum age from `iat`, seconds (requires `iat`). */
  maxAgeSeconds?: number;
  clockSkewSeconds: number;
  /** Required `typ` header (case-insensitive). */ typ?: string;
}

export interface VerifiedJwt {
  payload: JWTPayload;
  header: ProtectedHeaderParameters;
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export type Fail = (code: AttestationErrorCode, message: string) => never;

export function failer(kind: EvidenceKind): Fail {
  return (code, message) => {
    throw new AttestationError(code, message, kind);
  };
}

/** Checks a configured algorithm list: asymmetric algorithms only. */
export function checkAlgorithms(algorithms: readonly string[], kind: EvidenceKind): readonly string[] {
  if (algorithms.length === 0) throw new TypeError(`${kind}: at least one algorithm is required`);
  for (const alg of algorithms) {
    if (!ASYMMETRIC_ALGORITHMS.includes(alg)) {
      throw new TypeError(`${kind}: algorithm ${alg} is not allowed (asymmetric signatures only)`);
    }
  }
  return [...algorithms];
}

function tokenText(evidence: Uint8Array | string, kind: EvidenceKind): string {
  const fail: Fail = failer(kind);
  let text: string;
  if (typeof evidence === 'string') text = evidence;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(evidence);
    } catch {
      fail('malformed_evidence', 'token is not UTF-8');
    }
  }
  text = text.trim();
  if (text.length > MAX_TOKEN_CHARS)
    fail('malformed_evidence', `token longer than ${MAX_TOKEN_CHARS} characters`);
  if (text.split('.').length === 5) fail('unsupported', 'encrypted (JWE) tokens are not supported');
  if (!COMPACT_JWS.test(text)) fail('malformed_evidence', 'not a compact JWS');
  return text;
}

const JOSE_CODES: Readonly<Record<string, readonly [AttestationErrorCode, string?]>> = {
  ERR_JWT_EXPIRED: ['expired'],
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: ['signature_invalid', 'signature does not verify'],
  ERR_JWKS_NO_MATCHING_KEY: ['signature_invalid', 'no key in the pinned JWKS matches the token (kid/alg)'],
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: ['signature_invalid', 'several keys match and the token names no kid'],
  ERR_JOSE_ALG_NOT_ALLOWED: ['signature_invalid'],
  ERR_JOSE_NOT_SUPPORTED: ['unsupported'],
  ERR_JWS_INVALID: ['malformed_evidence'],
  ERR_JWT_INVALID: ['malformed_evidence'],
};

/** jose's errors → stable AttestationError codes. */
export function mapJoseError(e: unknown, kind: EvidenceKind): AttestationError {
  if (e instanceof AttestationError) return e;
  const err = e as { code?: unknown; claim?: unknown; reason?: unknown; message?: unknown };
  const message = typeof err.message === 'string' ? err.message : String(e);
  const make = (code: AttestationErrorCode, m: string): AttestationError =>
    new AttestationError(code, m, kind);
  if (err.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    const claim = String(err.claim);
    if (err.reason === 'missing') return make('malformed_evidence', `token lacks the "${claim}" claim`);
    if (err.reason === 'invalid') return make('malformed_evidence', message);
    if (claim === 'iss') return make('chain_invalid', 'token issued by another issuer than the pinned one');
    if (claim === 'aud') return make('policy_violation', 'token issued for another audience');
    if (claim === 'nbf' || claim === 'iat') return make('expired', `token not yet valid (${message})`);
    return make('policy_violation', message);
  }
  const known = typeof err.code === 'string' ? JOSE_CODES[err.code] : undefined;
  // Otherwise (JWKS fetch failures, a key of the wrong type) nothing verified: fail closed.
  return known
    ? make(known[0], known[1] ?? message)
    : make('signature_invalid', `could not verify the token: ${message}`);
}

/** Verifies signature, header rules, issuer, audience and time; returns the claims. */
export async function verifyJwtEvidence(
  evidence: Uint8Array | string,
  expected: ExpectedBinding,
  check: JwtCheck,
): Promise<VerifiedJwt> {
  const fail: Fail = failer(check.kind);
  const token = tokenText(evidence, check.kind);
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    fail('malformed_evidence', 'protected header is not JSON');
  }
  if (typeof header.alg !== 'string' || !check.algorithms.includes(header.alg)) {
    fail('signature_invalid', `alg ${JSON.stringify(header.alg)} is not allowed`);
  }
  for (const h of KEY_SOURCE_HEADERS) {
    if (h in header)
      fail('signature_invalid', `header carries its own key source (${h}); only the pinned keys count`);
  }
  if (header.jku !== undefined && !(check.allowedJku ?? []).includes(String(header.jku))) {
    fail('signature_invalid', `header jku ${JSON.stringify(header.jku)} is not the pinned JWKS`);
  }
  if (check.typ !== undefined && String(header.typ).toLowerCase() !== check.typ.toLowerCase()) {
    fail('malformed_evidence', `typ ${JSON.stringify(header.typ)}, expected ${check.typ}`);
  }
  const options: JWTVerifyOptions = {
    algorithms: [...check.algorithms],
    currentDate: new Date(expected.now),
    clockTolerance: check.clockSkewSeconds,
    requiredClaims: [...check.requiredClaims],
  };
  if (check.issuer !== undefined) options.issuer = check.issuer;
  if (check.audience !== undefined) {
    options.audience = typeof check.audience === 'string' ? check.audience : [...check.audience];
  }
  if (check.maxAgeSeconds !== undefined) options.maxTokenAge = check.maxAgeSeconds;
  try {
    const result =
      typeof check.key === 'function'
        ? await jwtVerify(token, check.key, options)
        : await jwtVerify(token, check.key, options);
    return { payload: result.payload, header: result.protectedHeader };
  } catch (e) {
    throw mapJoseError(e, check.kind);
  }
}

export interface JwksFetchOptions {
  /** HTTP timeout, ms. Default 5000. */
  timeoutMs?: number;
  /** Re-fetch the JWKS after this long, ms. Default 10 minutes. */
  cacheMaxAgeMs?: number;
  /** Minimum time between re-fetches on an unknown kid, ms. Default 30 s. */
  cooldownMs?: number;
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** https, or http to a loopback host (tests, a local sidecar). */
export function checkKeyUrl(url: string): URL {
  const u = new URL(url);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.has(u.hostname))) {
    throw new TypeError(`key URL ${url} must be https (or http to a loopback address)`);
  }
  return u;
}

/**
 * Azure Attestation's `/certs` lists keys as `{kty, kid, x5c}` without `n`/`e`, which jose cannot
 * import: derive the public key from the first certificate. Keys without usable material are
 * dropped; `x5c` is removed (jose never uses it for selection anyway).
 */
export function normalizeJwks(body: unknown): unknown {
  if (!isRecord(body) || !Array.isArray(body.keys)) return body;
  const keys: Record<string, unknown>[] = [];
  for (const k of body.keys) {
    if (!isRecord(k) || typeof k.kty !== 'string') continue;
    const { x5c, ...rest } = k;
    if (k.kty === 'RSA' ? typeof k.n === 'string' : typeof k.x === 'string') keys.push(rest);
    else if (Array.isArray(x5c) && typeof x5c[0] === 'string') {
      try {
        const jwk = new X509Certificate(Buffer.from(x5c[0], 'base64')).publicKey.export({ format: 'jwk' });
        if (jwk.kty === k.kty) keys.push({ ...jwk, ...rest });
      } catch {
        // not a certificate: the key is dropped
      }
    }
  }
  return { keys };
}

async function normalizingFetch(url: string, init: RequestInit): Promise<Response> {
  const res = await fetch(url, init);
  if (res.status !== 200) return res;
  const body: unknown = await res.json().catch(() => undefined);
  if (body === undefined) return new Response('JWKS is not JSON', { status: 502 });
  return new Response(JSON.stringify(normalizeJwks(body)), {
    status: 200,
    headers: { 'content-type': 'application/json' },
  });
}

/** A JWKS fetched over HTTP(S) with jose's cache (x5c-only keys normalized). */
export function remoteJwks(url: string, options: JwksFetchOptions = {}): JWTVerifyGetKey {
  return createRemoteJWKSet(checkKeyUrl(url), {
    timeoutDuration: options.timeoutMs ?? 5000,
    cacheMaxAge: options.cacheMaxAgeMs ?? 10 * 60_000,
    cooldownDuration: options.cooldownMs ?? 30_000,
    [customFetch]: normalizingFetch,
  });
}

/**
 * The JWKS named by an OIDC discovery document (`jwks_uri`), whose `issuer` must be the pinned
 * issuer. The document is fetched once (again after a failure); the JWKS is cached by jose.
 */
export function discoveredJwks(
  discoveryUrl: string,
  issuer: string,
  kind: EvidenceKind,
  options: JwksFetchOptions = {},
): JWTVerifyGetKey {
  const fail: Fail = failer(kind);
  const url = checkKeyUrl(discoveryUrl);
  const discover = async (): Promise<JWTVerifyGetKey> => {
    const res = await fetch(url, {
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
      headers: { accept: 'application/json' },
    });
    if (res.status !== 200) fail('signature_invalid', `OIDC discovery answered HTTP ${res.status}`);
    const doc: unknown = await res.json().catch(() => undefined);
    if (!isRecord(doc) || typeof doc.jwks_uri !== 'string') {
      fail('signature_invalid', 'OIDC discovery document has no jwks_uri');
    }
    if (doc.issuer !== issuer) {
      fail('chain_invalid', `OIDC discovery names issuer ${JSON.stringify(doc.issuer)}, pinned ${issuer}`);
    }
    try {
      return remoteJwks(doc.jwks_uri, options);
    } catch (e) {
      fail('signature_invalid', `OIDC discovery jwks_uri refused: ${(e as Error).message}`);
    }
  };
  let pending: Promise<JWTVerifyGetKey> | undefined;
  return async (header, token) => {
    pending ??= discover().catch((e: unknown) => {
      pending = undefined;
      throw e;
    });
    return (await pending)(header, token);
  };
}

/** Decodes base64 or base64url (padding optional). */
export function decodeBase64(text: string): Buffer {
  return Buffer.from(text, 'base64');
}

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && timingSafeEqual(a, b);

/** The binding as one nonce (base64url of 64 bytes); what the agent asks the service to echo. */
export function encodeBindingNonce(binding: Omit<ExpectedBinding, 'now'>): string {
  return Buffer.from(ZTGATE_BINDING_V1.expected(binding)).toString('base64url');
}

/** The binding as two nonces of 32 bytes (nonce half, TLS-key half), for services limiting sizes. */
export function encodeBindingNonceHalves(binding: Omit<ExpectedBinding, 'now'>): [string, string] {
  const b = Buffer.from(ZTGATE_BINDING_V1.expected(binding));
  return [b.subarray(0, 32).toString('base64url'), b.subarray(32).toString('base64url')];
}

/**
 * Checks that a nonce claim (a string or an array of strings) carries the binding of the
 * challenge nonce and TLS key: nonce_mismatch or key_binding_mismatch otherwise.
 */
export function checkBindingNonces(
  value: unknown,
  expected: ExpectedBinding,
  kind: EvidenceKind,
  claim: string,
): void {
  const fail: Fail = failer(kind);
  if (value === undefined)
    fail('nonce_mismatch', `no ${claim} claim: the token does not carry the challenge`);
  const entries = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(entries) || entries.length === 0 || !entries.every((e) => typeof e === 'string')) {
    fail('malformed_evidence', `${claim} is not a string or an array of strings`);
  }
  const want = ZTGATE_BINDING_V1.expected(expected);
  const wantNonce = want.subarray(0, 32);
  const wantKey = want.subarray(32);
  const halves: Uint8Array[] = [];
  for (const entry of entries as string[]) {
    const bytes = decodeBase64(entry);
    if (bytes.length === 64) halves.push(bytes.subarray(0, 32), bytes.subarray(32));
    else if (bytes.length === 32) halves.push(bytes);
  }
  let nonceOk = false;
  let keyOk = false;
  for (const h of halves) {
    if (equalBytes(h, wantNonce)) nonceOk = true;
    if (equalBytes(h, wantKey)) keyOk = true;
  }
  if (!nonceOk) fail('nonce_mismatch', `${claim} does not bind the challenge nonce`);
  if (!keyOk) {
    fail(
      'key_binding_mismatch',
      expected.tlsKeyDigest
        ? `${claim} does not bind the peer's TLS key`
        : `${claim} binds a TLS key, none was expected`,
    );
  }
}

/** Lowercase, without a `sha256:` prefix: how measurements and digests are compared. */
export const normalizeDigest = (v: string): string =>
  v
    .trim()
    .toLowerCase()
    .replace(/^sha256:/, '');

export function isApproved(list: readonly string[] | undefined, value: string): boolean {
  if (list === undefined) return true;
  const v = normalizeDigest(value);
  return list.some((x) => normalizeDigest(x) === v);
}

/** reference.minTcb against the components a token attests (a named component it lacks fails). */
export function checkMinTcb(
  tcb: Readonly<Record<string, number>>,
  reference: ReferenceValues,
  kind: EvidenceKind,
): void {
  for (const [component, min] of Object.entries(reference.minTcb ?? {})) {
    const have = tcb[component];
    if (have === undefined || have < min) {
      failer(kind)('tcb_too_old', `TCB ${component}=${have ?? 'absent'}, minimum ${min}`);
    }
  }
}

/** Reads a nested claim by key path (keys may contain dots, e.g. `ear.status`; "0" indexes arrays). */
export function claimAt(root: unknown, path: readonly string[]): unknown {
  let v: unknown = root;
  for (const key of path) {
    if (Array.isArray(v) && /^\d+$/.test(key)) v = v[Number(key)];
    else if (isRecord(v) && Object.hasOwn(v, key)) v = v[key];
    else return undefined;
  }
  return v;
}

/** `exp` (seconds) → ms, when present. */
export const expiresAtMs = (payload: JWTPayload): number | undefined =>
  typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
