/** One audit_log row: request_id, principal_id, phase, stored_at, entry (JSON). */
export type WriterRow = [string, string | null, string, string, string];

export type WriterRequest =
  | { readonly type: 'append'; readonly id: number; readonly rows: readonly WriterRow[] }
  | { readonly type: 'close' };

export type WriterResponse =
  | {
      readonly type: 'committed';
      readonly results: readonly { readonly id: number; readonly seqs: readonly number[] }[];
    }
  | { readonly type: 'failed'; readonly ids: readonly number[]; readonly message: string }
  | { readonly type: 'ready' }
  | { readonly type: 'closed' };
