import { createPublicKey } from 'node:crypto';
import type { KeyManager, KeyRef } from '../keys/index.js';
import { signerFromCallback, verifierFromPublicKey, type NoteSigner, type NoteVerifier } from './note.js';

/** The KeyProvider key that signs checkpoints (Ed25519: signed-note signature type 1). */
export const LEDGER_SIGNING_KEY = 'ledger-signing';

/** Default log origin (checkpoint first line and signer name) when the config names none. */
export const DEFAULT_LEDGER_ORIGIN = 'ztgate.local/ledger';

/**
 * A note signer over the primary version of the ledger key. The key is created on first use; the
 * signer is rebuilt after a rotation, since the note key hash names one public key.
 */
export async function ledgerSigner(keys: KeyManager, origin: string, actor: string): Promise<NoteSigner> {
  const info = await keys.ensureKey(LEDGER_SIGNING_KEY, 'ed25519', actor);
  const ref: KeyRef = { name: LEDGER_SIGNING_KEY, version: info.primaryVersion };
  const exported = await keys.provider.publicKey(ref);
  return signerFromCallback({
    name: origin,
    publicKey: createPublicKey(exported.spkiPem),
    sign: async (message) => {
      const signature = await keys.provider.sign(LEDGER_SIGNING_KEY, message);
      // A rotation between building the signer and signing would sign with another version.
      if (signature.keyId.version !== ref.version) throw new Error('the ledger signing key was rotated');
      return signature.signature;
    },
  });
}

/** Verifiers for every version of the ledger key whose public half the provider still serves. */
export async function ledgerVerifiers(
  keys: Pick<KeyManager, 'provider'>,
  origin: string,
): Promise<NoteVerifier[]> {
  let versions: readonly { version: number; state: string }[];
  try {
    versions = (await keys.provider.describeKey(LEDGER_SIGNING_KEY)).versions;
  } catch {
    return [];
  }
  const verifiers: NoteVerifier[] = [];
  for (const { version, state } of versions) {
    if (state === 'destroyed') continue;
    const exported = await keys.provider.publicKey({ name: LEDGER_SIGNING_KEY, version });
    verifiers.push(verifierFromPublicKey(origin, createPublicKey(exported.spkiPem)));
  }
  return verifiers;
}
