import { KeyError } from './errors.js';
import type { KeyAlgorithm, KeyRef } from './types.js';

/** Key names: lower-case letters, digits and dashes; they are also PKCS#11 labels and Vault key names. */
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const REF = /^([a-z0-9][a-z0-9-]{0,62})@([1-9][0-9]{0,8})$/;

export function assertKeyName(name: string): void {
  if (!NAME.test(name)) {
    throw new KeyError(
      'invalid_argument',
      'a key name is 1-63 lower-case letters, digits and dashes, starting with a letter or digit',
    );
  }
}

/** `ledger-signing@3` → { name: 'ledger-signing', version: 3 }. */
export function parseKeyRef(text: string): KeyRef {
  const match = REF.exec(text);
  if (!match)
    throw new KeyError('invalid_argument', 'a key id is written name@version, for example ledger-signing@3');
  return { name: match[1] as string, version: Number(match[2]) };
}

export function formatKeyRef(ref: KeyRef): string {
  return `${ref.name}@${ref.version}`;
}

export function isSigningAlgorithm(algorithm: KeyAlgorithm): boolean {
  return algorithm !== 'aes-256-gcm';
}

/** Size in bytes of an IEEE P1363 signature, and the digest used, per signing algorithm. */
export const SIGNATURE_SHAPE: Readonly<
  Record<Exclude<KeyAlgorithm, 'aes-256-gcm'>, { bytes: number; hash: 'sha256' | 'sha384' | null }>
> = {
  ed25519: { bytes: 64, hash: null },
  'ecdsa-p256': { bytes: 64, hash: 'sha256' },
  'ecdsa-p384': { bytes: 96, hash: 'sha384' },
};
