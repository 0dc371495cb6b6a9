import type { AuditQuery } from './types.js';

/** A numbered schema change. Numbered and append-only: never edit a shipped one, add a new one. */
export interface Migration {
  readonly version: number;
  readonly sql: string;
}

/**
 * Clamps paging input to the documented range: default 100, at most 1000, never negative (a
 * negative LIMIT means "no limit" to SQLite).
 */
export function pageOf(query: AuditQuery): { afterSeq: number; limit: number } {
  const after = Math.floor(query.afterSeq ?? 0);
  const limit = Math.floor(query.limit ?? 100);
  return {
    afterSeq: Number.isFinite(after) ? Math.max(0, after) : 0,
    limit: Number.isNaN(limit) ? 100 : Math.min(1000, Math.max(0, limit)),
  };
}
