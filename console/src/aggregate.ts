// Pure aggregation for the overview page: ledger entries and Prometheus text in, numbers out.
import type { AuditEntry } from './types.js';

export interface LedgerSummary {
  readonly requests: number;
  readonly denials: number;
  /** Finding counts by type, largest first. */
  readonly findings: readonly (readonly [string, number])[];
  /** Per minute (epoch seconds of the minute's start), oldest first, gaps filled with zeros. */
  readonly perMinute: {
    readonly times: readonly number[];
    readonly requests: readonly number[];
    readonly denials: readonly number[];
  };
}

/** Counts requests (entries that carry a decision; control entries excluded) and denials. */
export function summarise(entries: readonly AuditEntry[]): LedgerSummary {
  const findings = new Map<string, number>();
  const minutes = new Map<number, { requests: number; denials: number }>();
  let requests = 0;
  let denials = 0;
  for (const entry of entries) {
    if (entry.phase === 'control' || entry.phase === 'complete') continue;
    requests++;
    const denied = entry.decision === 'deny';
    if (denied) denials++;
    for (const [type, count] of Object.entries(entry.findings ?? {})) {
      if (typeof count === 'number') findings.set(type, (findings.get(type) ?? 0) + count);
    }
    const ms = Date.parse(entry.time);
    if (Number.isNaN(ms)) continue;
    const minute = Math.floor(ms / 60_000) * 60;
    const bucket = minutes.get(minute) ?? { requests: 0, denials: 0 };
    bucket.requests++;
    if (denied) bucket.denials++;
    minutes.set(minute, bucket);
  }
  const keys = [...minutes.keys()].sort((a, b) => a - b);
  const times: number[] = [];
  const perRequests: number[] = [];
  const perDenials: number[] = [];
  if (keys.length > 0) {
    for (let t = keys[0] as number; t <= (keys[keys.length - 1] as number); t += 60) {
      const bucket = minutes.get(t);
      times.push(t);
      perRequests.push(bucket?.requests ?? 0);
      perDenials.push(bucket?.denials ?? 0);
    }
  }
  return {
    requests,
    denials,
    findings: [...findings].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
    perMinute: { times, requests: perRequests, denials: perDenials },
  };
}

/** Sums of the samples of each metric in Prometheus text format (labels folded together). */
export function metricTotals(text: string): Map<string, number> {
  const totals = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[3]);
    if (!Number.isFinite(value)) continue;
    const name = match[1] as string;
    totals.set(name, (totals.get(name) ?? 0) + value);
  }
  return totals;
}
