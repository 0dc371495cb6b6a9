import type { LedgerRow } from './ledger-shared.js';
import type { CommittedLeaf } from './sqlite-ledger.js';

export type WriterRow = LedgerRow;

export type WriterRequest =
  | { readonly type: 'append'; readonly id: number; readonly rows: readonly WriterRow[] }
  | { readonly type: 'close' };

export type WriterResponse =
  | {
      readonly type: 'committed';
      readonly results: readonly { readonly id: number; readonly leaves: readonly CommittedLeaf[] }[];
    }
  | { readonly type: 'failed'; readonly ids: readonly number[]; readonly message: string }
  | { readonly type: 'ready' }
  | { readonly type: 'closed' };
