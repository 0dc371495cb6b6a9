/**
 * Key state, value formats and cryptography of the Vault API stub's Transit engine (see
 * vault-transit-stub.ts and vault-transit-stub-engine.ts), with node:crypto. Shapes and error strings
 * follow hashicorp/vault builtin/logical/transit/path_keys.go (formatKeyPolicy) and
 * sdk/helper/keysutil/policy.go (EncryptWithFactory, DecryptWithFactory, SymmetricEncryptRaw,
 * SymmetricDecryptRaw, SignWithOptions, VerifySignatureWithOptions, ErrTooOld).
 */
import {
  createCipheriv,
  createDecipheriv,
  generateKeyPairSync,
  randomBytes,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';

export interface StubAnswer {
  readonly status: number;
  readonly data?: Record<string, unknown>;
  readonly warnings?: string[];
  readonly errors?: string[];
}
export type StubOperation = 'read' | 'list' | 'update' | 'delete';
export type Body = Readonly<Record<string, unknown>>;

export const ok = (data: Record<string, unknown>, warnings?: string[]): StubAnswer => ({
  status: 200,
  data,
  ...(warnings ? { warnings } : {}),
});
export const bad = (message: string, status = 400): StubAnswer => ({ status, errors: [message] });
export const NOT_FOUND: StubAnswer = { status: 404, errors: [] };
export const TOO_OLD = 'ciphertext or signature version is disallowed by policy (too old)';
export const AUTH_FAILED = 'cipher: message authentication failed';

export const TYPES = ['aes256-gcm96', 'ed25519', 'ecdsa-p256', 'ecdsa-p384'] as const;
export type StubType = (typeof TYPES)[number];
export const CURVE = {
  'ecdsa-p256': ['prime256v1', 'P-256', 32],
  'ecdsa-p384': ['secp384r1', 'P-384', 48],
} as const;
export const HASHES: Readonly<Record<string, string>> = {
  sha1: 'sha1',
  'sha2-224': 'sha224',
  'sha2-256': 'sha256',
  'sha2-384': 'sha384',
  'sha2-512': 'sha512',
  'sha3-224': 'sha3-224',
  'sha3-256': 'sha3-256',
  'sha3-384': 'sha3-384',
  'sha3-512': 'sha3-512',
};

export interface StubVersion {
  readonly created: Date;
  readonly secret?: Buffer;
  readonly privateKey?: KeyObject;
  readonly publicKey?: string;
}
export interface StubKey {
  readonly name: string;
  readonly type: StubType;
  latest: number;
  minDecryption: number;
  minEncryption: number;
  minAvailable: number;
  deletionAllowed: boolean;
  /** Trimmed versions are deleted from here: their material is gone. */
  readonly versions: Map<number, StubVersion>;
}

/** A 400 (or other) answer thrown from deep inside a handler. */
export class Refusal extends Error {
  constructor(readonly answer: StubAnswer) {
    super(answer.errors?.[0] ?? 'refused');
  }
}
export const refuse = (message: string, status = 400): never => {
  throw new Refusal(bad(message, status));
};

const STD_B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Go's base64.StdEncoding.DecodeString, or null (Node's decoder accepts anything). */
export function decodeStd(text: string): Buffer | null {
  return STD_B64.test(text) ? Buffer.from(text, 'base64') : null;
}
export function goBase64Error(text: string): string {
  const at = [...text].findIndex((c) => !/[A-Za-z0-9+/=]/.test(c));
  return `illegal base64 data at input byte ${at < 0 ? Math.max(text.length - 1, 0) : at}`;
}
export const str = (body: Body, field: string, fallback = ''): string =>
  typeof body[field] === 'string' ? (body[field] as string) : fallback;
/** Vault's TypeInt: a JSON number or a numeric string. */
export function int(body: Body, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) {
    return refuse(`error converting input ${JSON.stringify(value)} for field "${field}"`);
  }
  return n;
}

export function newVersion(type: StubType): StubVersion {
  const created = new Date();
  if (type === 'aes256-gcm96') return { created, secret: randomBytes(32) };
  if (type === 'ed25519') {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const x = publicKey.export({ format: 'jwk' }).x ?? '';
    return { created, privateKey, publicKey: Buffer.from(x, 'base64url').toString('base64') };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: CURVE[type][0] });
  return { created, privateKey, publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
}

/** Read key's `data` (path_keys.go formatKeyPolicy); archived and trimmed versions are not listed. */
export function describe(key: StubKey): Record<string, unknown> {
  const aes = key.type === 'aes256-gcm96';
  const keys: Record<string, unknown> = {};
  for (const [version, entry] of key.versions) {
    if (version < key.minDecryption) continue;
    const createdSeconds = Math.floor(entry.created.getTime() / 1000);
    keys[String(version)] = aes
      ? createdSeconds
      : {
          name: key.type === 'ed25519' ? 'ed25519' : CURVE[key.type][1],
          public_key: entry.publicKey,
          certificate_chain: '',
          creation_time: entry.created.toISOString(),
        };
  }
  return {
    name: key.name,
    type: key.type,
    derived: false,
    deletion_allowed: key.deletionAllowed,
    min_available_version: key.minAvailable,
    min_decryption_version: key.minDecryption,
    min_encryption_version: key.minEncryption,
    latest_version: key.latest,
    exportable: false,
    allow_plaintext_backup: false,
    supports_encryption: aes,
    supports_decryption: aes,
    supports_signing: !aes,
    supports_derivation: aes || key.type === 'ed25519',
    auto_rotate_period: 0,
    imported_key: false,
    keys,
  };
}

/** Splits `vault:v<n>:<rest>` the way keysutil does, with its error texts for `what`. */
export function splitVersioned(
  key: StubKey,
  text: string,
  what: 'ciphertext' | 'signature',
): [number, string] {
  if (!text.startsWith('vault:v')) refuse(`invalid ${what}: no prefix`);
  const rest = text.slice('vault:v'.length);
  const colon = rest.indexOf(':');
  if (colon < 0) refuse(`invalid ${what}: wrong number of fields`);
  if (!/^[+-]?\d+$/.test(rest.slice(0, colon))) {
    refuse(`invalid ${what}: version number could not be decoded`);
  }
  const version = Number(rest.slice(0, colon)) || 1; // v0 is an alias of v1
  if (version > key.latest) refuse(`invalid ${what}: version is too new`);
  if (key.minDecryption > 0 && version < key.minDecryption) refuse(TOO_OLD);
  return [version, rest.slice(colon + 1)];
}

export function entry(key: StubKey, version: number): StubVersion {
  return key.versions.get(version) ?? refuse('no such key version');
}

/** keysutil EncryptWithFactory + SymmetricEncryptRaw: `vault:vN:base64(nonce || ct || tag)`. */
export function seal(
  key: StubKey,
  requested: number,
  plaintext: Buffer,
  aad: Buffer | null,
): [string, number] {
  if (key.type !== 'aes256-gcm96') refuse(`message encryption not supported for key type ${key.type}`);
  if (requested < 0) refuse('requested version for encryption is negative');
  if (requested > key.latest) {
    refuse('requested version for encryption is higher than the latest key version');
  }
  if (requested !== 0 && requested < key.minEncryption) {
    refuse('requested version for encryption is less than the minimum encryption key version');
  }
  const version = requested || key.latest;
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', entry(key, version).secret as Buffer, nonce);
  if (aad) cipher.setAAD(aad);
  const sealed = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return [`vault:v${version}:${sealed.toString('base64')}`, version];
}

/** keysutil DecryptWithFactory + SymmetricDecryptRaw. */
export function open(key: StubKey, ciphertext: string, aad: Buffer | null): Buffer {
  if (key.type !== 'aes256-gcm96') refuse(`message decryption not supported for key type ${key.type}`);
  const [version, body] = splitVersioned(key, ciphertext, 'ciphertext');
  const decoded = decodeStd(body) ?? refuse('invalid ciphertext: could not decode base64');
  const secret = entry(key, version).secret as Buffer;
  if (decoded.length < 12) refuse('invalid ciphertext length');
  if (decoded.length < 12 + 16) refuse(AUTH_FAILED);
  try {
    const decipher = createDecipheriv('aes-256-gcm', secret, decoded.subarray(0, 12));
    if (aad) decipher.setAAD(aad);
    decipher.setAuthTag(decoded.subarray(decoded.length - 16));
    return Buffer.concat([decipher.update(decoded.subarray(12, decoded.length - 16)), decipher.final()]);
  } catch {
    return refuse(AUTH_FAILED);
  }
}

/** `associated_data` (base64), refused for non-AEAD keys as path_encrypt.go / path_decrypt.go do. */
export function aad(key: StubKey, body: Body): Buffer | null {
  const text = str(body, 'associated_data');
  if (!text) return null;
  if (key.type !== 'aes256-gcm96') {
    refuse(`'[0].associated_data' provided for non-AEAD cipher suite ${key.type}`);
  }
  return (
    decodeStd(text) ??
    refuse(`unable to get associated_data/additional_data from factory[0]: ${goBase64Error(text)}`, 500)
  );
}

export function unsupportedPath(): StubAnswer {
  return bad('1 error occurred:\n\t* unsupported path\n\n', 404);
}
export function unsupportedOperation(): StubAnswer {
  return bad('1 error occurred:\n\t* unsupported operation\n\n', 405);
}

/** keysutil SignWithOptions: ed25519 signs the input, ECDSA its hash; `der` (asn1) or r||s (jws). */
export function signWith(
  version: StubVersion,
  type: StubType,
  hash: string,
  jws: boolean,
  input: Buffer,
): string {
  const key = version.privateKey as KeyObject;
  const signature =
    type === 'ed25519'
      ? nodeSign(null, input, key)
      : nodeSign(hash, input, { key, dsaEncoding: jws ? 'ieee-p1363' : 'der' });
  return signature.toString(jws ? 'base64url' : 'base64');
}

/** keysutil VerifySignatureWithOptions; a malformed signature is simply not valid here. */
export function verifyWith(
  version: StubVersion,
  type: StubType,
  hash: string,
  jws: boolean,
  input: Buffer,
  sig: Buffer,
): boolean {
  // node:crypto verifies with the private KeyObject's public half.
  const key = version.privateKey as KeyObject;
  try {
    if (type === 'ed25519') return nodeVerify(null, input, key, sig);
    if (!jws) return nodeVerify(hash, input, { key, dsaEncoding: 'der' }, sig);
    // Vault cuts a JWS signature in two halves, whatever its length (verifyWithECDSA).
    const width = CURVE[type as keyof typeof CURVE][2];
    const half = Math.floor(sig.length / 2);
    const parts = [sig.subarray(0, half), sig.subarray(half)].map((part) => {
      const start = part.findIndex((b) => b !== 0);
      const trimmed = start < 0 ? Buffer.alloc(0) : part.subarray(start);
      return trimmed.length > width ? null : Buffer.concat([Buffer.alloc(width - trimmed.length), trimmed]);
    });
    if (!parts[0] || !parts[1]) return false;
    return nodeVerify(hash, input, { key, dsaEncoding: 'ieee-p1363' }, Buffer.concat([parts[0], parts[1]]));
  } catch {
    return false;
  }
}
