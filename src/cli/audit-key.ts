import { createPublicKey } from 'node:crypto';
import { LEDGER_SIGNING_KEY } from '../ledger/signing.js';
import { formatVerifierKey } from '../ledger/note.js';
import { parse } from './args.js';
import { withKeyContext } from './key-context.js';

export const AUDIT_KEY_USAGE = `ztgate audit key [--home DIR]
  Prints the ledger's signed-note verifier keys (<origin>+<hash>+<base64>), one per version of the
  ledger-signing key that is not destroyed, newest last: what auditors and witnesses configure,
  and what "ztgate audit verify --key" takes to verify a copy of the ledger offline.`;

/** `ztgate audit key`: the verifier keys of the ledger's signing key. */
export async function auditKey(args: readonly string[]): Promise<number> {
  const { values } = parse(args, { home: { type: 'string' } });
  return withKeyContext(values.home, 'audit key', async (context) => {
    const provider = context.service.keys.provider;
    const info = await provider.describeKey(LEDGER_SIGNING_KEY);
    for (const { version, state } of info.versions) {
      if (state === 'destroyed') continue;
      const exported = await provider.publicKey({ name: LEDGER_SIGNING_KEY, version });
      const vkey = formatVerifierKey(context.config.ledger.origin, createPublicKey(exported.spkiPem));
      process.stdout.write(`${vkey}\n`);
    }
    return 0;
  });
}
