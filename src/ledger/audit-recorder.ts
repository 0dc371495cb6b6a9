import type { RecordStage } from '../core/index.js';
import type { AuditRepository } from '../store/index.js';

/**
 * The record stage before the Merkle ledger lands: a plain append of the audit entry to the
 * store, resolved only once the store has committed it.
 */
export function createAuditRecorder(audit: AuditRepository): RecordStage {
  return (entry) => audit.append(entry);
}
