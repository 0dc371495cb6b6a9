import { readFile } from 'node:fs/promises';
import { parseCheckpoint } from '../ledger/checkpoint.js';
import { leafHash } from '../ledger/merkle.js';
import { verifyInclusion } from '../ledger/merkle-verify.js';
import { parseNote, verifierFromKey, type NoteVerifier } from '../ledger/note.js';
import { ledgerVerifiers } from '../ledger/signing.js';
import { storedInclusionProof } from '../ledger/store-proofs.js';
import { verifyLedger, type LedgerVerifyReport } from '../ledger/verify-log.js';
import type { AuditRepository, StoredCheckpoint } from '../store/index.js';
import { parse, UsageError } from './args.js';
import { withKeyContext, withStoreContext, type StoreContext } from './key-context.js';

export const AUDIT_VERIFY_USAGE = `ztgate audit verify [--checkpoint FILE]... [--key VKEY]... [--json] [--home DIR]
  Recomputes the ledger from storage: every leaf's text and hash, the Merkle tree, and every
  stored checkpoint's signature and root. --checkpoint adds a signed checkpoint kept elsewhere (an
  auditor's or a witness's copy), which must verify and match too. Checkpoint signatures are
  checked with the ledger key from the key provider, or only with the signed-note verifier keys
  given with --key (<name>+<hash>+<base64>, as a witness or auditor holds them). Exits 0 when
  everything matches, 1 naming the first bad leaf index otherwise.`;

export const AUDIT_PROOF_USAGE = `ztgate audit proof --index N [--size M] [--home DIR]
  Prints, as JSON, the entry at index N with its inclusion proof against the latest signed
  checkpoint (or the stored checkpoint of size M): {index, size, leafHash, leaf, proof, checkpoint}.
  Exits 1 when no checkpoint covers index N yet.`;

const DECIMAL = /^(?:0|[1-9][0-9]{0,14})$/;
const MAX_CHECKPOINT_FILE_BYTES = 64 * 1024;

function integerOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!DECIMAL.test(value)) throw new UsageError(`${name} must be a non-negative integer`);
  return Number(value);
}

async function readCheckpointFile(path: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    throw new UsageError(`cannot read --checkpoint ${path}`);
  }
  if (bytes.length > MAX_CHECKPOINT_FILE_BYTES) throw new UsageError(`--checkpoint ${path} is too large`);
  return bytes.toString('utf8');
}

function verifierKeys(keys: readonly string[]): NoteVerifier[] {
  return keys.map((key) => {
    try {
      return verifierFromKey(key.trim());
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new UsageError(
        `--key is not a signed-note verifier key${typeof code === 'string' ? ` (${code})` : ''}`,
      );
    }
  });
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

function printReport(report: LedgerVerifyReport, json: boolean): number {
  if (json) {
    const { rootHash, ...rest } = report;
    process.stdout.write(`${JSON.stringify({ ...rest, rootHash: rootHash.toString('hex') }, null, 2)}\n`);
  }
  const { problem } = report;
  if (problem) {
    const at = problem.index === undefined ? '' : ` at index ${problem.index}`;
    process.stderr.write(
      `ztgate audit verify: ${problem.code}${at}: ${problem.message}\n` +
        `  (${count(report.checkpoints, 'checkpoint')} matched before it, up to size ${report.coveredSize})\n`,
    );
    return 1;
  }
  if (!json) {
    const lines = [
      `ledger verified: ${count(report.size, 'entry', 'entries')}, root ${report.rootHash.toString('hex')}`,
      `  ${count(report.checkpoints, 'checkpoint')} verified; covered size ${report.coveredSize}`,
    ];
    if (report.uncoveredLeaves > 0) {
      const pending = count(report.uncoveredLeaves, 'entry', 'entries');
      lines.push(`  ${pending} after the latest checkpoint not signed yet (verified, not covered)`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return 0;
}

async function verifyWith(
  context: Pick<StoreContext, 'store' | 'config'>,
  verifiers: readonly NoteVerifier[],
  externalCheckpoints: readonly string[],
  json: boolean,
): Promise<number> {
  const progress = process.stderr.isTTY
    ? (done: number, size: number) => process.stderr.write(`\r  verified ${done} / ${size} entries`)
    : undefined;
  const report = await verifyLedger(context.store.audit, {
    origin: context.config.ledger.origin,
    verifiers,
    externalCheckpoints,
    ...(progress ? { onProgress: progress } : {}),
  });
  if (progress) process.stderr.write('\r\x1b[K');
  return printReport(report, json);
}

/** `ztgate audit verify`. */
export async function auditVerify(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    home: { type: 'string' },
    checkpoint: { type: 'string', multiple: true },
    key: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  });
  if (positionals.length > 0) throw new UsageError('audit verify takes no positional arguments');
  const external: string[] = [];
  for (const path of values.checkpoint ?? []) external.push(await readCheckpointFile(path));
  const json = values.json === true;
  const given = verifierKeys(values.key ?? []);
  if (given.length > 0) {
    return withStoreContext(values.home, 'audit verify', (context) =>
      verifyWith(context, given, external, json),
    );
  }
  return withKeyContext(values.home, 'audit verify', async (context) => {
    const verifiers = await ledgerVerifiers(context.service.keys, context.config.ledger.origin);
    return verifyWith(context, verifiers, external, json);
  });
}

/** The checkpoint to prove against: of size `size`, or the latest. */
async function proofCheckpoint(
  audit: AuditRepository,
  size: number | undefined,
): Promise<StoredCheckpoint | undefined> {
  if (size === undefined) return audit.latestCheckpoint();
  const [found] = await audit.checkpoints({ afterSize: size - 1, limit: 1 });
  return found?.size === size ? found : undefined;
}

async function printProof(context: StoreContext, index: number, size: number | undefined): Promise<number> {
  const audit = context.store.audit;
  const checkpoint = await proofCheckpoint(audit, size);
  if (!checkpoint) {
    process.stderr.write(
      size === undefined
        ? `ztgate audit proof: no checkpoint covers index ${index} yet (the ledger has no signed checkpoint)\n`
        : `ztgate audit proof: no stored checkpoint has size ${size}\n`,
    );
    return 1;
  }
  if (checkpoint.size <= index) {
    process.stderr.write(
      `ztgate audit proof: no checkpoint covers index ${index} yet (the ${
        size === undefined ? 'latest' : 'chosen'
      } checkpoint has size ${checkpoint.size}); try again after the next checkpoint\n`,
    );
    return 1;
  }
  const [leaf] = await audit.leaves(index, index + 1);
  if (leaf?.index !== index) {
    process.stderr.write(
      `ztgate audit proof: leaf ${index} is missing from storage: run ztgate audit verify\n`,
    );
    return 1;
  }
  const proof = await storedInclusionProof(audit, index, checkpoint.size);
  // The proof is checked before it is printed: a damaged store must not hand out a proof that fails.
  const hash = leafHash(Buffer.from(leaf.text, 'utf8'));
  try {
    const signed = parseCheckpoint(parseNote(checkpoint.note).text);
    verifyInclusion(hash, index, signed.size, proof, signed.rootHash);
  } catch {
    process.stderr.write(
      `ztgate audit proof: the stored ledger does not prove leaf ${index} against the checkpoint of size ${checkpoint.size}: run ztgate audit verify\n`,
    );
    return 1;
  }
  const output = {
    index,
    size: checkpoint.size,
    leafHash: hash.toString('hex'),
    leaf: leaf.text,
    proof: proof.map((node) => node.toString('base64')),
    checkpoint: checkpoint.note,
  };
  process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  return 0;
}

/** `ztgate audit proof`. */
export async function auditProof(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    home: { type: 'string' },
    index: { type: 'string' },
    size: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError('audit proof takes no positional arguments');
  const index = integerOption(values.index, '--index');
  if (index === undefined) throw new UsageError('audit proof needs --index N');
  const size = integerOption(values.size, '--size');
  if (size !== undefined && size <= index) throw new UsageError('--size must be above --index');
  return withStoreContext(values.home, 'audit proof', (context) => printProof(context, index, size));
}
