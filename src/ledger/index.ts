export { createAuditRecorder, type LedgerRecorderOptions } from './audit-recorder.js';
export { Checkpointer, type CheckpointerOptions } from './checkpointer.js';
export { RetentionVault, type RetainedContent } from './retention.js';
export { ledgerSigner, ledgerVerifiers, LEDGER_SIGNING_KEY, DEFAULT_LEDGER_ORIGIN } from './signing.js';
export { storedConsistencyProof, storedInclusionProof, storedRootHash } from './store-proofs.js';
