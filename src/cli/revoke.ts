import { controlAuditEntry } from '../gateway/control-audit.js';
import {
  checkReason,
  checkTarget,
  isRevocationKind,
  REVOCATION_KINDS,
  RevocationInputRefused,
  revocationTarget,
  tokenHash,
  type RevocationKind,
} from '../identity/revocation-kinds.js';
import { DEFAULT_MAX_TTL_MS, DEFAULT_TTL_MS, RevocationList } from '../identity/revocation-list.js';
import { parse, UsageError } from './args.js';
import { parseDuration } from './duration.js';
import { withStoreContext, type StoreContext } from './key-context.js';

export const REVOKE_USAGE = `ztgate revoke token|jti|subject|device|session|apikey|certificate [VALUE] [--reason TEXT] [--for 24h] [--home DIR]
  Revokes a credential on every running gateway through the shared bus (Redis), for --for
  (default 24h). token: give the raw token on standard input (only its SHA-256 is kept) or its
  SHA-256 as VALUE. subject: a principal id (issuer#sub, service:NAME). With bus "memory:" no other
  process can be told: use POST /admin/revocations on the gateway's admin listener instead.`;

const MAX_STDIN_BYTES = 65_536;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_STDIN_BYTES) throw new UsageError('the token on standard input is too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** The value to revoke: for `token` from standard input (hashed here) unless a hash is given. */
async function valueOf(kind: RevocationKind, given: string | undefined): Promise<string> {
  if (kind !== 'token') {
    if (given === undefined) throw new UsageError(`revoke ${kind} needs a VALUE`);
    return given;
  }
  if (given !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(given)) {
      throw new UsageError(
        'VALUE for token must be its SHA-256 (64 hex digits); give the token itself on standard input',
      );
    }
    return given;
  }
  if (process.stdin.isTTY)
    throw new UsageError('give the token on standard input, for example: ztgate revoke token < token.txt');
  const token = await readStdin();
  if (token.length === 0) throw new UsageError('standard input is empty: expected the token to revoke');
  return tokenHash(token);
}

async function record(
  context: StoreContext,
  kind: RevocationKind,
  target: string,
  details: readonly string[],
  errorCode?: string,
): Promise<void> {
  await context.store.audit.append(
    controlAuditEntry({
      action: `revoke.${kind}`,
      target,
      actor: context.actor,
      authMethod: 'cli',
      outcome: errorCode ? 'failed' : 'ok',
      details,
      ...(errorCode ? { errorCode } : {}),
    }),
  );
}

/** `ztgate revoke KIND [VALUE]`. */
export async function revokeCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    home: { type: 'string' },
    reason: { type: 'string' },
    for: { type: 'string' },
  });
  const kind = positionals[0];
  if (!isRevocationKind(kind)) throw new UsageError(`expected: revoke ${REVOCATION_KINDS.join('|')} [VALUE]`);
  if (positionals.length > 2) throw new UsageError('expected one VALUE');
  const ttlMs = values.for === undefined ? DEFAULT_TTL_MS : parseDuration(values.for, '--for');
  if (ttlMs > DEFAULT_MAX_TTL_MS) throw new UsageError('--for must be at most 400d');
  let target: { kind: RevocationKind; value: string };
  let reason: string;
  try {
    target = checkTarget(kind, await valueOf(kind, positionals[1]));
    reason = checkReason(values.reason);
  } catch (err) {
    if (err instanceof RevocationInputRefused) throw new UsageError(err.message);
    throw err;
  }
  const shownTarget = revocationTarget(target.kind, target.value);
  return withStoreContext(values.home, `revoke ${kind}`, async (context) => {
    const details = [`for:${Math.round(ttlMs / 1000)}s`, ...(reason ? [`reason:${reason}`] : [])];
    if (!context.bus) {
      await record(context, target.kind, shownTarget, details, 'bus_not_shared');
      process.stderr.write(
        `ztgate revoke ${kind}: bus_not_shared: the configured bus is "memory:", which only the process ` +
          `holding it sees, so a revocation from this command would reach no gateway.\n` +
          `  Revoke through the running gateway instead: POST /admin/revocations on its admin listener,\n` +
          `  or configure bus.url: redis://… so that every replica and this command share revocations.\n`,
      );
      return 1;
    }
    const list = new RevocationList({ bus: context.bus, snapshotIntervalMs: 0 });
    try {
      const revocation = await list.revoke({ ...target, reason, ttlMs, actor: context.actor });
      await record(context, target.kind, shownTarget, details);
      process.stdout.write(`revoked ${shownTarget} until ${revocation.expiresAt}\n`);
      return 0;
    } catch (err) {
      await record(context, target.kind, shownTarget, details, 'revocation_failed').catch(() => undefined);
      throw err;
    } finally {
      await list.close();
    }
  });
}
