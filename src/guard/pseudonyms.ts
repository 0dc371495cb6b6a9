import { createHmac } from 'node:crypto';
import type { Finding, TextRestorer } from '../core/index.js';
import type { ConversationMapping } from './conversations.js';
import { mask } from './masking.js';
import { reveals, type ReplacementMethod, type ReplacementPlan } from './replacement-plan.js';

/** Keys for one request: the conversation's pseudonym key and the gateway-wide hash key. */
export interface PseudonymKeys {
  /** HMAC key of this conversation: the same value gets the same placeholder across its turns. */
  readonly conversation: Buffer;
  /** HMAC key for `hash` (stable across conversations, irreversible). */
  readonly hash: Buffer;
}

export interface Replaced {
  readonly texts: string[];
  readonly counts: ReadonlyMap<ReplacementMethod, number>;
  readonly restorer: TextRestorer;
  /** The conversation's mapping after this request (the prior one plus new values). */
  readonly mapping: ConversationMapping;
  /** New values were added to the mapping (it needs saving). */
  readonly grew: boolean;
}

export const TYPE = /^[A-Z][A-Z0-9_]{0,40}$/;
/** Bounded quantifiers: each `[` costs at most ~50 steps, so a scan is linear. */
export const PLACEHOLDER = /\[([A-Z][A-Z0-9_]{0,40})_([1-9][0-9]{0,5})\]/g;
const MAX_PLACEHOLDER = 50;

interface Span {
  readonly slot: number;
  readonly start: number;
  readonly end: number;
  readonly type: string;
  readonly method: ReplacementMethod;
}

function plannedSpans(findings: readonly Finding[], plan: ReplacementPlan, texts: readonly string[]): Span[] {
  const spans: Span[] = [];
  for (const f of findings) {
    const method = plan.methods.get(f.type);
    const at = f.location;
    if (!method || !at || !TYPE.test(f.type)) continue;
    const text = texts[at.message];
    if (text === undefined || at.start < 0 || at.end > text.length || at.start >= at.end) continue;
    spans.push({ slot: at.message, start: at.start, end: at.end, type: f.type, method });
  }
  // Per slot, left to right; on overlap the longer span (then the stricter method) wins.
  spans.sort((a, b) => a.slot - b.slot || a.start - b.start || b.end - a.end);
  const kept: Span[] = [];
  for (const s of spans) {
    const last = kept.at(-1);
    if (last && last.slot === s.slot && s.start < last.end) continue;
    kept.push(s);
  }
  return kept;
}

/** Indexes already used by placeholders in the request (history sent back by the client) or the conversation. */
function usedIndexes(texts: Iterable<string>): Map<string, number> {
  const used = new Map<string, number>();
  for (const t of texts)
    for (const m of t.matchAll(PLACEHOLDER)) {
      const type = m[1] as string;
      used.set(type, Math.max(used.get(type) ?? 0, Number(m[2])));
    }
  return used;
}

const hmac = (key: Buffer, type: string, value: string): string =>
  createHmac('sha256', key).update(type).update('\0').update(value.normalize('NFC')).digest('hex');

/**
 * Replaces every planned finding in the request's texts: `pseudonymize` → `[TYPE_n]` (the same
 * value → the same placeholder in this request; numbering continues after placeholders already
 * in the texts), `redact` → `[TYPE]`, `hash` → `[TYPE_h<8 hex of a keyed HMAC>]`, `mask` → a
 * masked value. The mapping from placeholders to values lives only in the returned restorer,
 * which puts back the types the plan reveals.
 */
export function replaceFindings(
  texts: readonly string[],
  findings: readonly Finding[],
  plan: ReplacementPlan,
  keys: PseudonymKeys,
  prior?: ConversationMapping,
): Replaced {
  const spans = plannedSpans(findings, plan, texts);
  const counters = usedIndexes([...texts, ...(prior ? prior.values.keys() : [])]);
  const byIdentity = new Map<string, string>(prior?.byIdentity);
  const values = new Map<string, { type: string; value: string }>(prior?.values);
  const priorSize = byIdentity.size;
  const counts = new Map<ReplacementMethod, number>();
  const out = [...texts];
  // Right to left within each slot so earlier offsets stay valid.
  for (let i = spans.length - 1; i >= 0; i--) {
    const s = spans[i] as Span;
    const text = out[s.slot] as string;
    const value = (texts[s.slot] as string).slice(s.start, s.end);
    let replacement: string;
    switch (s.method) {
      case 'redact':
        replacement = `[${s.type}]`;
        break;
      case 'mask':
        replacement = mask(s.type, value);
        break;
      case 'hash':
        replacement = `[${s.type}_h${hmac(keys.hash, s.type, value).slice(0, 8)}]`;
        break;
      case 'pseudonymize':
        replacement = ''; // assigned below, in reading order
        break;
    }
    if (s.method !== 'pseudonymize') {
      out[s.slot] = text.slice(0, s.start) + replacement + text.slice(s.end);
      counts.set(s.method, (counts.get(s.method) ?? 0) + 1);
    }
  }
  // Pseudonyms are numbered in reading order (first mention → _1), then written right to left.
  const pseudonymOf = new Map<Span, string>();
  for (const s of spans) {
    if (s.method !== 'pseudonymize') continue;
    const value = (texts[s.slot] as string).slice(s.start, s.end);
    const identity = `${s.type}\0${hmac(keys.conversation, s.type, value)}`;
    let placeholder = byIdentity.get(identity);
    if (!placeholder) {
      const n = (counters.get(s.type) ?? 0) + 1;
      counters.set(s.type, n);
      placeholder = `[${s.type}_${n}]`;
      byIdentity.set(identity, placeholder);
      values.set(placeholder, { type: s.type, value });
    }
    pseudonymOf.set(s, placeholder);
  }
  for (let i = spans.length - 1; i >= 0; i--) {
    const s = spans[i] as Span;
    const placeholder = pseudonymOf.get(s);
    if (!placeholder) continue;
    const text = out[s.slot] as string;
    out[s.slot] = text.slice(0, s.start) + placeholder + text.slice(s.end);
    counts.set('pseudonymize', (counts.get('pseudonymize') ?? 0) + 1);
  }
  return {
    texts: out,
    counts,
    restorer: restorerOf(values, plan),
    mapping: { byIdentity, values },
    grew: byIdentity.size > priorSize,
  };
}

function restorerOf(
  values: ReadonlyMap<string, { type: string; value: string }>,
  plan: ReplacementPlan,
): TextRestorer {
  const restore = (text: string): { text: string; restored: number } => {
    if (values.size === 0 || !text.includes('[')) return { text, restored: 0 };
    let restored = 0;
    const replaced = text.replace(PLACEHOLDER, (whole) => {
      const hit = values.get(whole);
      if (!hit || !reveals(plan, hit.type)) return whole;
      restored++;
      return hit.value;
    });
    return { text: replaced, restored };
  };
  return {
    restore,
    stream() {
      let pending = '';
      let restored = 0;
      const take = (text: string): string => {
        const r = restore(text);
        restored += r.restored;
        return r.text;
      };
      return {
        push(delta) {
          pending += delta;
          // Hold back a `[` that may still become a placeholder (no `]` yet, short enough).
          const open = pending.lastIndexOf('[');
          const cut =
            open >= 0 && !pending.includes(']', open) && pending.length - open < MAX_PLACEHOLDER
              ? open
              : pending.length;
          const ready = pending.slice(0, cut);
          pending = pending.slice(cut);
          return take(ready);
        },
        end() {
          const rest = pending;
          pending = '';
          return take(rest);
        },
        restored: () => restored,
      };
    },
  };
}
