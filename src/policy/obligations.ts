import type { Obligation } from '../core/index.js';

/**
 * Obligations are read from the annotations of permit policies: `@obligation("…")` and any
 * `@obligation_<suffix>("…")` (Cedar allows one annotation per key). One annotation may hold
 * several obligations separated by `;`. The grammar (docs/POLICY.md):
 *
 *   pseudonymize:TYPES | redact:TYPES | mask:TYPES | hash:TYPES | reveal:(all|none|TYPES)
 *   | route:region=REGIONS
 *   | max_tokens:N | retain:N(h|d) | require_approval
 *   TYPES = TYPE ("," TYPE)*   TYPE = [A-Z][A-Z0-9_]*   REGIONS = REGION ("," REGION)*
 *   REGION = [a-z0-9][a-z0-9-]*   N = 1..10000000 (decimal, no leading zero)
 */
export type ParsedObligation =
  | { readonly kind: ReplacementKind; readonly types: readonly string[] }
  | { readonly kind: 'reveal'; readonly reveal: 'all' | 'none' | readonly string[] }
  | { readonly kind: 'route'; readonly regions: readonly string[] }
  | { readonly kind: 'max_tokens'; readonly max: number }
  | { readonly kind: 'retain'; readonly hours: number; readonly text: string }
  | { readonly kind: 'require_approval' };

/** Replacements, strictest first: a type named by several takes the first. */
export const REPLACEMENT_KINDS = ['redact', 'pseudonymize', 'hash', 'mask'] as const;
export type ReplacementKind = (typeof REPLACEMENT_KINDS)[number];

const TYPES = /^[A-Z][A-Z0-9_]*(,[A-Z][A-Z0-9_]*)*$/;
const REGIONS = /^[a-z0-9][a-z0-9-]*(,[a-z0-9][a-z0-9-]*)*$/;
const NUMBER = /^[1-9][0-9]{0,7}$/;
const RETAIN = /^([1-9][0-9]{0,4})([hd])$/;

export function isObligationAnnotation(key: string): boolean {
  return key === 'obligation' || key.startsWith('obligation_');
}

const uniqSorted = (items: Iterable<string>): string[] => [...new Set(items)].sort();

/** Parses one obligation; returns an error message instead when it is unknown or malformed. */
export function parseObligation(raw: string): ParsedObligation | string {
  const text = raw.trim();
  if (text === 'require_approval') return { kind: 'require_approval' };
  const colon = text.indexOf(':');
  if (colon < 0) return `unknown obligation "${text}"`;
  const kind = text.slice(0, colon);
  const arg = text.slice(colon + 1);
  switch (kind) {
    case 'pseudonymize':
    case 'redact':
    case 'mask':
    case 'hash':
      return TYPES.test(arg) ? { kind, types: uniqSorted(arg.split(',')) } : `malformed ${kind} "${text}"`;
    case 'reveal':
      if (arg === 'all' || arg === 'none') return { kind, reveal: arg };
      return TYPES.test(arg) ? { kind, reveal: uniqSorted(arg.split(',')) } : `malformed reveal "${text}"`;
    case 'route': {
      const regions = arg.startsWith('region=') ? arg.slice('region='.length) : '';
      return REGIONS.test(regions)
        ? { kind, regions: uniqSorted(regions.split(',')) }
        : `malformed route "${text}"`;
    }
    case 'max_tokens':
      return NUMBER.test(arg) && Number(arg) <= 10_000_000
        ? { kind, max: Number(arg) }
        : `malformed max_tokens "${text}"`;
    case 'retain': {
      const m = RETAIN.exec(arg);
      if (!m) return `malformed retain "${text}"`;
      return { kind, hours: Number(m[1]) * (m[2] === 'd' ? 24 : 1), text: arg };
    }
    default:
      return `unknown obligation "${text}"`;
  }
}

/** Parses an annotation value (`;`-separated obligations); collects problems into `errors`. */
export function parseObligationAnnotation(value: string, errors: string[]): ParsedObligation[] {
  const out: ParsedObligation[] = [];
  const parts = value.split(';');
  for (const part of parts) {
    const parsed = parseObligation(part);
    if (typeof parsed === 'string') errors.push(parsed);
    else out.push(parsed);
  }
  return out;
}

export type MergeResult =
  | { readonly ok: true; readonly obligations: readonly Obligation[] }
  | { readonly ok: false; readonly error: 'policy.route_conflict' };

function intersect(a: readonly string[] | undefined, b: readonly string[]): string[] {
  return a === undefined ? [...b] : a.filter((x) => b.includes(x));
}

/**
 * Merges the obligations of every determining policy, strictest wins: each entity type named
 * by a replacement takes the strictest one (redact, then pseudonymize, then hash, then mask);
 * max_tokens the
 * minimum; retain the shortest; route:region the intersection (empty → route_conflict);
 * reveal the most restrictive (none < types < all; two type lists intersect, empty → none);
 * require_approval if any asks. Output is in a fixed kind order with sorted values.
 */
export function mergeObligations(all: readonly ParsedObligation[]): MergeResult {
  const replacement = new Map<string, ReplacementKind>();
  let reveal: 'all' | 'none' | string[] | undefined;
  let regions: string[] | undefined;
  let maxTokens: number | undefined;
  let retain: { hours: number; text: string } | undefined;
  let approval = false;
  for (const o of all) {
    switch (o.kind) {
      case 'pseudonymize':
      case 'redact':
      case 'mask':
      case 'hash':
        for (const t of o.types) {
          const had = replacement.get(t);
          if (had === undefined || REPLACEMENT_KINDS.indexOf(o.kind) < REPLACEMENT_KINDS.indexOf(had))
            replacement.set(t, o.kind);
        }
        break;
      case 'reveal':
        if (reveal === 'none' || o.reveal === 'none') reveal = 'none';
        else if (o.reveal === 'all') reveal ??= 'all';
        else if (reveal === undefined || reveal === 'all') reveal = [...o.reveal];
        else {
          const both = intersect(reveal, o.reveal);
          reveal = both.length ? both : 'none';
        }
        break;
      case 'route':
        regions = intersect(regions, o.regions);
        break;
      case 'max_tokens':
        maxTokens = Math.min(maxTokens ?? Infinity, o.max);
        break;
      case 'retain':
        if (!retain || o.hours < retain.hours) retain = { hours: o.hours, text: o.text };
        break;
      case 'require_approval':
        approval = true;
        break;
    }
  }
  if (regions !== undefined && regions.length === 0) return { ok: false, error: 'policy.route_conflict' };
  const out: Obligation[] = [];
  for (const kind of ['pseudonymize', 'redact', 'mask', 'hash'] as const) {
    const types = [...replacement].filter(([, k]) => k === kind).map(([t]) => t);
    if (types.length) out.push({ kind, value: uniqSorted(types).join(',') });
  }
  if (reveal !== undefined)
    out.push({ kind: 'reveal', value: Array.isArray(reveal) ? reveal.join(',') : reveal });
  if (regions !== undefined) out.push({ kind: 'route', value: `region=${regions.join(',')}` });
  if (maxTokens !== undefined) out.push({ kind: 'max_tokens', value: String(maxTokens) });
  if (retain) out.push({ kind: 'retain', value: retain.text });
  if (approval) out.push({ kind: 'require_approval', value: '' });
  return { ok: true, obligations: out };
}

/** The obligation as text, as it appears in an annotation: `kind:value` or `require_approval`. */
export function formatObligation(o: Obligation): string {
  return o.value === '' ? o.kind : `${o.kind}:${o.value}`;
}
