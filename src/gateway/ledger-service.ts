import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ZtgateConfig } from '../config/index.js';
import type { RecordStage } from '../core/index.js';
import type { KeyManager } from '../keys/index.js';
import { createAuditRecorder } from '../ledger/audit-recorder.js';
import { Checkpointer } from '../ledger/checkpointer.js';
import { RetentionVault } from '../ledger/retention.js';
import { ledgerSigner } from '../ledger/signing.js';
import { storedConsistencyProof } from '../ledger/store-proofs.js';
import { createWitness } from '../ledger/witness.js';
import type { Store } from '../store/index.js';
import type { AdminAuthorization } from './admin-auth.js';
import type { GatewayMetrics } from './metrics.js';
import { registerAdminLedger } from './admin-ledger.js';

/** Obligations the record stage applies. */
export const RECORD_OBLIGATIONS = ['retain'] as const;

/** Recorded as the actor of the ledger's own key operations. */
const LEDGER_ACTOR = 'system:ledger';

export interface LedgerService {
  /** The pipeline's record stage. */
  readonly record: RecordStage;
  readonly checkpointer: Checkpointer;
  readonly vault: RetentionVault;
  adminRoutes(app: FastifyInstance, authorize: AdminAuthorization): Promise<void>;
  /** Signs a last checkpoint and stops the timers. */
  close(): Promise<void>;
}

/**
 * The ledger as the gateway runs it: the record stage (content retention first, then the append),
 * a checkpointer that signs tree heads with the ledger key and hands them to witnesses, a sweep
 * that shreds retention periods that have ended, and the admin routes.
 */
export async function openLedgerService(options: {
  readonly config: ZtgateConfig;
  readonly home: string;
  readonly store: Store;
  readonly keys: KeyManager;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
}): Promise<LedgerService> {
  const { config, home, store, keys, logger, metrics } = options;
  const settings = config.ledger;
  const prove = (from: number, to: number) => storedConsistencyProof(store.audit, from, to);
  const checkpointer = new Checkpointer({
    audit: store.audit,
    origin: settings.origin,
    signer: () => ledgerSigner(keys, settings.origin, LEDGER_ACTOR),
    everyEntries: settings.checkpoint.everyEntries,
    intervalMs: settings.checkpoint.intervalMs,
    witnesses: settings.witnesses.map((w) => createWitness(w, prove, home)),
    onError: (err, during, witness) => {
      metrics.ledgerFailures.inc({ during });
      logger.error(
        { err: err instanceof Error ? err.message : String(err), ...(witness ? { witness } : {}) },
        during === 'witness' ? 'ledger witness refused or unreachable' : 'ledger checkpoint failed',
      );
    },
    onCheckpoint: (checkpoint) => metrics.ledgerCheckpointSize.set(checkpoint.size),
  });
  // The first checkpoint is signed at start: a key problem stops the start, not the first request.
  await ledgerSigner(keys, settings.origin, LEDGER_ACTOR);
  await checkpointer.start();
  const vault = new RetentionVault({
    keys,
    objects: store.objects,
    period: settings.retention.period,
    perSubject: settings.retention.perSubject,
    actor: LEDGER_ACTOR,
  });
  const sweep = setInterval(() => {
    vault.sweep().then(
      ({ shredded }) => {
        if (shredded.length > 0) logger.info({ keys: shredded }, 'retention periods ended: content shredded');
      },
      (err: unknown) =>
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'retention sweep failed'),
    );
  }, settings.retention.sweepIntervalMs);
  sweep.unref();
  return {
    record: createAuditRecorder({
      audit: store.audit,
      vault,
      onAppended: (index) => checkpointer.appended(index),
    }),
    checkpointer,
    vault,
    adminRoutes: (app, authorize) =>
      registerAdminLedger(app, store.audit, authorize, (err) =>
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'admin ledger API'),
      ),
    close: async () => {
      clearInterval(sweep);
      await checkpointer.close();
    },
  };
}
