import type { Candidate, NameSpan } from './span.js';
import type { Token } from './tokenize.js';

/** Runs joined by `,` or `and`/`&` (`Rudi, Jackson and Campos`). */
function joined(tokens: readonly Token[], x: Candidate, y: Candidate): boolean {
  if (y.first - x.last !== 2) return false;
  const mid = tokens[x.last + 1] as Token;
  return mid.punct === 44 || mid.punct === 38 || mid.lower === 'and' || mid.lower === 'or';
}

/**
 * Names in a list share a type (`Rudi, Jackson and Campos`): a chain of runs joined by `,` or
 * `and` whose members have some person evidence and none is another type becomes PERSON.
 */
export function listPeople(
  tokens: readonly Token[],
  cands: readonly Candidate[],
  decided: (NameSpan | undefined)[],
): void {
  let k = 0;
  while (k < cands.length) {
    let e = k;
    while (e + 1 < cands.length && joined(tokens, cands[e] as Candidate, cands[e + 1] as Candidate)) e++;
    if (e > k) {
      let evidence = 0;
      let other = false;
      for (let x = k; x <= e; x++) {
        const d = decided[x];
        if (d !== undefined && d.type !== 'PERSON') other = true;
        evidence += d?.type === 'PERSON' ? 2 : (cands[x] as Candidate).person;
      }
      if (!other && evidence >= 1.5) {
        for (let x = k; x <= e; x++) {
          const c = cands[x] as Candidate;
          decided[x] ??= { first: c.first, last: c.last, type: 'PERSON', score: 0.5 };
        }
      }
    }
    k = e + 1;
  }
}

/** `Margaret S. Stouffer of Guidestar`: an unclaimed run right after `PERSON of` is where they work. */
export function employers(
  tokens: readonly Token[],
  cands: readonly Candidate[],
  decided: (NameSpan | undefined)[],
): void {
  for (let k = 1; k < cands.length; k++) {
    const c = cands[k] as Candidate;
    const p = cands[k - 1] as Candidate;
    if (decided[k] !== undefined || decided[k - 1]?.type !== 'PERSON' || c.first - p.last !== 2) continue;
    if (tokens[p.last + 1]?.lower !== 'of' || c.location > 0) continue;
    decided[k] = { first: c.first, last: c.last, type: 'ORGANIZATION', score: 0.5 };
  }
}
