import type { RecordStage, RetentionRef } from '../core/index.js';
import type { AuditRepository } from '../store/index.js';
import type { RetentionVault } from './retention.js';

export interface LedgerRecorderOptions {
  readonly audit: Pick<AuditRepository, 'append'>;
  /** Keeps content a `retain` obligation asks for; without it such a request fails (fail closed). */
  readonly vault?: Pick<RetentionVault, 'keep'>;
  /** Told of each committed leaf (the checkpointer counts them). */
  readonly onAppended?: (index: number) => void;
}

/**
 * The record stage: appends the entry to the ledger and resolves only once it is durably
 * committed. Retained content is encrypted and stored first, so the entry can name where it is.
 */
export function createAuditRecorder(options: LedgerRecorderOptions): RecordStage {
  const { audit, vault, onAppended } = options;
  return async (entry, retain) => {
    let retention: RetentionRef | undefined;
    if (retain) {
      if (!vault) throw new Error('content retention is not available');
      retention = await vault.keep({
        // A stream's answer is kept with its closing entry, apart from the prompt kept at release.
        requestId: entry.phase === 'complete' ? `${entry.requestId}.answer` : entry.requestId,
        subject: retain.subject,
        hours: retain.hours,
        content: { prompt: retain.prompt, answer: retain.answer },
      });
    }
    const receipt = await audit.append(retention ? { ...entry, retention } : entry);
    onAppended?.(receipt.index);
    return receipt;
  };
}
