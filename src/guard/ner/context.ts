import { F } from './lexicon.js';
import { Kind, type Token } from './tokenize.js';

/** Sentence-ending punctuation and list markers: . ! ? ; ( [ " • * #. */
const BREAKS = new Set([46, 33, 63, 59, 40, 91, 34, 0x201c, 0x2022, 42, 35, 124]);

/** True when token i opens a sentence, a line or a quoted part. */
export function sentenceStart(tokens: readonly Token[], i: number): boolean {
  const t = tokens[i];
  if (t === undefined) return false;
  if (i === 0 || t.newlines > 0) return true;
  const p = tokens[i - 1];
  if (p === undefined) return true;
  if (p.kind === Kind.Punct) {
    if (p.punct === 58 || p.punct === 45 || p.punct === 0x2013 || p.punct === 0x2014) return true; // ":" "-"
    if (p.punct === 46) {
      // `Dr. Burke`, `K. Kishiev`: the dot ends an abbreviation, not a sentence.
      const pp = tokens[i - 2];
      if (
        pp !== undefined &&
        pp.kind === Kind.Word &&
        ((pp.flags & F.HONORIFIC) !== 0 || pp.end - pp.start === 1)
      )
        return false;
      return true;
    }
    return BREAKS.has(p.punct);
  }
  return false;
}

/** Scores a capitalised run gets from the words just before it. */
export interface Cue {
  person: number;
  location: number;
  org: number;
  honorific: boolean;
  /** `my name is`, `call me`, `named`: what follows is a name even in lower case. */
  strong: boolean;
}

/** Reads up to two words before token i, within the sentence (a `:` or a `.` of `Dr.` is crossed). */
export function cueBefore(tokens: readonly Token[], i: number): Cue {
  const cue: Cue = { person: 0, location: 0, org: 0, honorific: false, strong: false };
  let w0 = '';
  let w1 = '';
  let f0 = 0;
  let f1 = 0;
  let count = 0;
  let j = i - 1;
  while (j >= 0 && count < 2) {
    const t = tokens[j];
    if (t === undefined) break;
    if (t.kind === Kind.Word) {
      if (count === 0) {
        w0 = t.lower;
        f0 = t.flags;
      } else {
        w1 = t.lower;
        f1 = t.flags;
      }
      count++;
    } else if (t.kind === Kind.Punct) {
      // `Name: X`, `What's your last name? X`
      const before = tokens[j - 1]?.lower;
      if ((t.punct === 58 || (t.punct === 63 && (before === 'name' || before === 'names'))) && count === 0) {
        j--;
        continue;
      }
      if (t.punct === 46 && count === 0) {
        const h = tokens[j - 1];
        if (h !== undefined && (h.flags & F.HONORIFIC) !== 0) {
          j--;
          continue;
        }
      }
      if (t.punct !== 44 || count > 0) break;
    } else break;
    if (tokens[j + 1]?.newlines !== 0 && j + 1 !== i) break;
    j--;
  }
  if ((f0 & F.HONORIFIC) !== 0) {
    cue.honorific = true;
    cue.person += 3;
  }
  if ((f0 & F.PERSON_CUE) !== 0)
    cue.person += w0 === 'is' || w0 === 'was' || w0 === 'by' || w0 === 'with' ? 0 : 1;
  if ((w0 === 'is' || w0 === 'was' || w0 === 'be') && (w1 === 'name' || w1 === 'names')) {
    cue.person += 2.5;
    cue.strong = true;
  }
  if (w0 === 'named' || w0 === 'called' || (w0 === 'me' && (w1 === 'call' || w1 === 'calls')))
    cue.strong = true;
  if (w0 === 'me' && (w1 === 'call' || w1 === 'calls')) cue.person += 2.5;
  if (w0 === 'name' || w0 === 'named' || w0 === 'called' || w0 === "i'm" || w0 === 'im') cue.person += 1.5;
  if (w0 === 'am' && w1 === 'i') cue.person += 1;
  // `met with X`, `told to X`: a person cue word one further back.
  if ((w0 === 'with' || w0 === 'to' || w0 === 'by') && (f1 & F.PERSON_CUE) !== 0 && (f1 & F.LOC_CUE) === 0)
    cue.person += 1;
  if ((w0 === 'him' || w0 === 'her' || w0 === 'me' || w0 === 'them') && f1 & F.PERSON_CUE) cue.person += 1.5;
  if (w0 === 'by' && (w1 === 'directed' || w1 === 'written' || w1 === 'written' || w1 === 'played'))
    cue.person += 2;
  if ((f0 & F.LOC_CUE) !== 0)
    cue.location += w0 === 'of' || w0 === 'to' || w0 === 'at' ? 0.5 : w0 === 'in' || w0 === 'from' ? 1.5 : 1;
  if (f1 & F.LOC_CUE && (w0 === 'in' || w0 === 'to' || w0 === 'at' || w0 === 'from')) cue.location += 1;
  if ((f0 & F.ORG_CUE) !== 0) cue.org += w0 === 'for' || w0 === 'at' || w0 === 'with' ? 0.25 : 1;
  if ((w0 === 'for' || w0 === 'at' || w0 === 'by' || w0 === 'with') && f1 & F.ORG_CUE) cue.org += 2;
  return cue;
}
