import type { Finding } from '../core/index.js';
import type { Detection } from './types.js';

/** What the output scanner does with a type found in an answer. */
export interface AnswerPolicy {
  /** Finds spans in answer text (PII, secrets, canaries). */
  readonly scan: (text: string) => readonly Detection[];
  /** Types replaced by `[TYPE]` before the client sees them. */
  readonly redact: ReadonlySet<string>;
  /** Types that withhold the whole answer. */
  readonly block: ReadonlySet<string>;
}

export interface CleanedText {
  readonly text: string;
  readonly findings: readonly Finding[];
  readonly redacted: number;
  /** A type from `block` was found. */
  readonly blocked: string | undefined;
}

/**
 * Applies the answer policy to one complete piece of answer text: reports every detection (type
 * and score, never the value), replaces the `redact` types right to left, and names a `block`
 * type if one is present. Overlapping detections: the first (leftmost, then longest) wins.
 */
export function cleanAnswerText(
  text: string,
  policy: AnswerPolicy,
  slot: number,
  upTo = text.length,
): CleanedText {
  const detections = [...policy.scan(text)]
    .filter((d) => d.start < upTo)
    .sort((a, b) => a.start - b.start || b.end - a.end);
  const findings: Finding[] = [];
  let blocked: string | undefined;
  const kept: Detection[] = [];
  for (const d of detections) {
    findings.push({
      detector: `output:${d.recognizer}`,
      type: d.type,
      score: d.score,
      location: { message: slot, start: d.start, end: d.end },
    });
    if (policy.block.has(d.type)) blocked ??= d.type;
    if (!policy.redact.has(d.type)) continue;
    const last = kept.at(-1);
    if (last && d.start < last.end) continue;
    kept.push(d);
  }
  let out = text;
  for (let i = kept.length - 1; i >= 0; i--) {
    const d = kept[i] as Detection;
    out = out.slice(0, d.start) + `[${d.type}]` + out.slice(d.end);
  }
  return { text: out, findings, redacted: kept.length, blocked };
}
