import { controlAuditEntry } from '../gateway/control-audit.js';
import { openKeyService } from '../gateway/key-service.js';
import { checkReason, RevocationInputRefused } from '../identity/revocation-kinds.js';
import { RetentionError, RetentionVault, subjectHash } from '../ledger/retention.js';
import { parse, UsageError } from './args.js';
import { withStoreContext, type StoreContext } from './key-context.js';

export const AUDIT_ERASE_USAGE = `ztgate audit erase --subject ID [--reason TEXT] [--home DIR]
  Serves an erasure request: destroys every version of the subject's content key, so that all
  prompt and answer content retained for that subject can never be read again. Needs
  ledger.retention.perSubject: true. The ledger keeps its hashes and metadata and still verifies;
  the erasure is recorded in it under the subject's SHA-256, never the id itself.`;

const MAX_SUBJECT_LENGTH = 1024;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

async function record(
  context: StoreContext,
  target: string,
  details: readonly string[],
  errorCode?: string,
): Promise<void> {
  await context.store.audit.append(
    controlAuditEntry({
      action: 'audit.erase',
      target,
      actor: context.actor,
      authMethod: 'cli',
      outcome: errorCode ? 'failed' : 'ok',
      details,
      ...(errorCode ? { errorCode } : {}),
    }),
  );
}

function fail(message: string): number {
  process.stderr.write(`ztgate audit erase: ${message}\n`);
  return 1;
}

/** `ztgate audit erase --subject ID`: crypto-shreds one subject's retained content. */
export async function auditErase(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    home: { type: 'string' },
    subject: { type: 'string' },
    reason: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError('audit erase takes no positional arguments');
  const subject = values.subject;
  if (subject === undefined || subject.length === 0) throw new UsageError('--subject ID is required');
  if (subject.length > MAX_SUBJECT_LENGTH || CONTROL.test(subject)) {
    throw new UsageError(`--subject must be printable text of at most ${MAX_SUBJECT_LENGTH} characters`);
  }
  let reason: string;
  try {
    reason = checkReason(values.reason);
  } catch (err) {
    if (err instanceof RevocationInputRefused)
      throw new UsageError(err.message.replace(/^reason/, '--reason'));
    throw err;
  }
  const hash = subjectHash(subject);
  const target = `subject-sha256:${hash}`;
  const details = reason ? [`reason:${reason}`] : [];
  return withStoreContext(values.home, 'audit erase', async (context) => {
    const { config } = context;
    if (!config.ledger.retention.perSubject) {
      await record(context, target, details, 'per_subject_disabled');
      return fail(
        'per_subject_disabled: per-subject keys are not configured (ledger.retention.perSubject is false),\n' +
          '  so retained content is only under per-period keys and cannot be erased by subject; it is\n' +
          '  shredded when its retention period ends. Set ledger.retention.perSubject: true for new content.',
      );
    }
    const service = await openKeyService({
      config,
      home: context.home,
      env: process.env,
      store: context.store,
      authMethod: 'cli',
      ...(context.bus ? { bus: context.bus } : {}),
    });
    try {
      const vault = new RetentionVault({
        keys: service.keys,
        objects: context.store.objects,
        period: config.ledger.retention.period,
        perSubject: true,
        actor: context.actor,
      });
      let erased: Awaited<ReturnType<RetentionVault['eraseSubject']>>;
      try {
        erased = await vault.eraseSubject(subject);
      } catch (err) {
        const code =
          err instanceof RetentionError ? err.code : ((err as { code?: unknown }).code ?? 'erase_failed');
        await record(context, target, details, String(code)).catch(() => undefined);
        if (err instanceof RetentionError && err.code === 'subject_unknown') {
          return fail(
            `subject_unknown: no content was ever retained under a key of this subject (${hash.slice(0, 16)}…): nothing to erase`,
          );
        }
        throw err;
      }
      await record(context, target, [
        ...details,
        `key:${erased.keyName}`,
        ...erased.destroyed.map((id) => `destroyed:${id}`),
      ]);
      process.stdout.write(
        `erased subject ${hash.slice(0, 16)}…: destroyed ${erased.destroyed.join(', ') || 'no versions'}; ` +
          `content retained for it can no longer be read\n`,
      );
      return 0;
    } finally {
      await service.close();
    }
  });
}
