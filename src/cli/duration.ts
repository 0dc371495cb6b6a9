import { UsageError } from './args.js';

const UNITS_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^([1-9][0-9]{0,5})([smhd])$/;

/** Parses `90d`, `12h`, `30m` or `45s` (the config's duration form) into milliseconds. */
export function parseDuration(text: string, option: string): number {
  const match = DURATION.exec(text);
  if (!match) throw new UsageError(`${option} must be a duration such as 90d, 12h, 30m or 45s`);
  return Number(match[1]) * UNITS_MS[match[2] as keyof typeof UNITS_MS];
}

/** `--expires`: a duration from now, or an ISO-8601 date or time in the future. */
export function parseExpiry(text: string, now: Date, option = '--expires'): Date {
  if (DURATION.test(text)) return new Date(now.getTime() + parseDuration(text, option));
  if (text.length > 40 || !/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    throw new UsageError(`${option} must be a duration such as 90d or an ISO-8601 date such as 2026-01-31`);
  }
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) throw new UsageError(`${option} is not a valid date`);
  if (at.getTime() <= now.getTime()) throw new UsageError(`${option} must be in the future`);
  return at;
}
