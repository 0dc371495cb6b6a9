import { cueBefore } from './context.js';
import { F, NAME, PLACE } from './lexicon.js';
import { WORDY } from './regexps.js';
import type { NameSpan } from './span.js';
import { Kind, type Token } from './tokenize.js';

/** Cheap test before lowerCase(): only a short word before can be a cue. */
export function lowerCue(p: Token | undefined, pp: Token | undefined): boolean {
  if (p !== undefined && p.punct === 46) return pp !== undefined && (pp.flags & F.HONORIFIC) !== 0; // `mr. elliott`
  if (p === undefined || p.kind !== Kind.Word || p.end - p.start > 6) return false;
  return (p.flags & (F.LOC_CUE | F.PERSON_CUE)) !== 0 || p.lower === 'me';
}

/** Lower-case entities after a strong cue: `my name is ana dias`, `from switzerland`. */
export function lowerCase(tokens: readonly Token[], i: number): NameSpan | undefined {
  const t = tokens[i] as Token;
  if ((t.flags & F.STOP) !== 0) return undefined;
  const cue = cueBefore(tokens, i);
  if ((t.flags & PLACE) !== 0 && (t.flags & (F.COMMON | NAME)) === 0 && cue.location >= 0.5)
    return { first: i, last: i, type: 'LOCATION', score: 0.5 };
  const named = (t.flags & F.COMMON) === 0 && ((t.flags & NAME) !== 0 || cue.honorific);
  if (cue.strong || (cue.person >= 1.5 && named)) {
    const n = tokens[i + 1];
    const two =
      n !== undefined &&
      n.kind === Kind.Word &&
      n.newlines === 0 &&
      (n.flags & (F.STOP | F.COMMON)) === 0 &&
      !WORDY.test(n.lower);
    return { first: i, last: two ? i + 1 : i, type: 'PERSON', score: 0.5 };
  }
  return undefined;
}
