import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { signDevEvidence } from '../runtime/attestation/dev.js';
import type { EvidenceKind } from '../runtime/attestation/types.js';
import { writeFileAtomic } from '../mesh/index.js';
import type { Measurements } from './measure.js';

/**
 * Makes attestation evidence over a challenge: the nonce, the digest of the TLS key the agent
 * serves, and the current measurements. One implementation per evidence kind (the `dev` software
 * key here; a SEV-SNP or TDX report producer would ask the hardware for a report whose
 * report_data is ZTGATE_BINDING_V1 of the same inputs).
 */
export interface EvidenceProducer {
  readonly kind: EvidenceKind;
  /** True when no hardware root vouches for the evidence (`dev`): labelled in logs and answers. */
  readonly insecure: boolean;
  /** The public key that verifies the evidence (SPKI PEM), for the reference values; hardware kinds have none. */
  readonly publicKeyPem?: string;
  /** Its identifier (the JWS `kid`). */
  readonly keyId?: string;
  produce(nonce: Uint8Array, tlsKeyDigest: Uint8Array, measurements: Measurements): Promise<string>;
}

/** The name of the dev key file in the agent's state directory (PKCS#8 PEM, mode 0600). */
export const DEV_KEY_FILE = 'dev-evidence-key.pem';

/**
 * Loads the agent's Ed25519 dev key from `stateDir`, or generates and stores it (0600, written
 * atomically). A key file readable by group or others is refused: anyone who can read it can
 * forge this agent's dev evidence.
 */
export async function loadDevKey(
  stateDir: string,
): Promise<{ privateKey: KeyObject; publicKey: KeyObject; path: string; created: boolean }> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, DEV_KEY_FILE);
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (info) {
    if ((info.mode & 0o077) !== 0) {
      throw new Error(
        `${path} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`,
      );
    }
    const privateKey = createPrivateKey(await readFile(path, 'utf8'));
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${path} is not an Ed25519 key`);
    return { privateKey, publicKey: createPublicKey(privateKey), path, created: false };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await writeFileAtomic(path, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
  return { privateKey, publicKey, path, created: true };
}

/**
 * A `dev` evidence producer: the compact JWS of src/runtime/attestation/dev.ts (`signDevEvidence`,
 * verified by `DevVerifier`), signed with the agent's software key, `kid` = the key's JWK
 * thumbprint (RFC 7638), `sub` = the agent's SPIFFE ID. No hardware root: insecure.
 */
export async function devEvidenceProducer(options: {
  readonly privateKey: KeyObject;
  /** The agent's SPIFFE ID (the `sub` claim). */
  readonly subject: string;
}): Promise<EvidenceProducer> {
  const publicKey = createPublicKey(options.privateKey);
  const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
  return {
    kind: 'dev',
    insecure: true,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: kid,
    produce: (nonce, tlsKeyDigest, measurements) =>
      signDevEvidence({
        privateKey: options.privateKey,
        kid,
        nonce,
        tlsKeyDigest,
        measurements: { ...measurements },
        spiffeId: options.subject,
      }),
  };
}
