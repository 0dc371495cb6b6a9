/** A recognizer built from one safe pattern and a validation function. */
import type { Detection, Recognizer } from '../types.js';
import { contextScore, detection, forEachMatch } from './shared.js';
import type { PiiPattern } from './shared.js';
import { type TextProfile, profileOf } from './profile.js';

export interface CheckedSpec {
  readonly name: string;
  readonly type: string;
  readonly pattern: PiiPattern;
  /** True when the match passes its checksum / structure rules. */
  readonly validate: (raw: string) => boolean;
  /** Score of a validated match without context. */
  readonly score: number;
  readonly context: ReadonlySet<string>;
  /** Speed only: false when the pattern cannot match a text of this profile. */
  readonly gate?: (profile: TextProfile, text: string) => boolean;
}

export function checkedRecognizer(spec: CheckedSpec): Recognizer {
  return {
    name: spec.name,
    types: [spec.type],
    detect(text: string): Detection[] {
      const out: Detection[] = [];
      if (spec.gate !== undefined && !spec.gate(profileOf(text), text)) return out;
      forEachMatch(spec.pattern.regex, text, (m) => {
        if (!spec.validate(m[0])) return;
        const s = m.index;
        const e = s + m[0].length;
        out.push(detection(spec.type, s, e, contextScore(text, s, e, spec.score, spec.context), spec.name));
      });
      return out;
    },
  };
}

/** Only the ASCII letters and digits of a string, upper-cased. */
export function alnumUpper(s: string): string {
  let out = '';
  for (const ch of s.toUpperCase()) {
    if ((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z')) out += ch;
  }
  return out;
}

/** Weighted digit sum: Σ digit[i] × weights[i]. */
export function weightedSum(digits: string, weights: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += (digits.charCodeAt(i) - 48) * (weights[i] ?? 0);
  return sum;
}
