import { F, NAME, PLACE } from './lexicon.js';
import { WORDY } from './regexps.js';
import { Kind, Shape, type Token } from './tokenize.js';

/** Lower-case particles inside names: `Villafranca del Cid`, `Ludwig van Beethoven`. */
export const PARTICLES = new Set([
  'de',
  'del',
  'della',
  'di',
  'da',
  'das',
  'dos',
  'do',
  'du',
  'van',
  'von',
  'der',
  'den',
  'la',
  'le',
  'y',
  'bin',
  'ibn',
  'al',
  'el',
  'ter',
  'ten',
  'zu',
]);
/** Flags that make a word part of some known entity. */
export const ENTITY = NAME | PLACE | F.ORG | F.DEMONYM | F.ORG_SUFFIX;

/** Capitalised words that may be part of a name. `shout`: the text is mostly upper case. */
export function isCapWord(t: Token | undefined, shout: boolean): boolean {
  if (t === undefined || t.kind !== Kind.Word) return false;
  if (t.shape === Shape.Title) return !shout || (t.flags & ENTITY) !== 0;
  if (t.shape === Shape.Upper) {
    if (shout) return (t.flags & (NAME | PLACE | F.ORG)) !== 0 && (t.flags & (F.STOP | F.COMMON)) === 0;
    return (
      (t.flags & (PLACE | F.ORG | F.ORG_SUFFIX)) !== 0 || (t.end - t.start >= 4 && (t.flags & F.STOP) === 0)
    );
  }
  return false;
}

/** Ordinary words: function words, lexicon words that are not names, and word-like endings. */
export function ordinary(t: Token): boolean {
  if ((t.flags & F.STOP) !== 0) return true;
  if ((t.flags & (NAME | PLACE | F.ORG | F.DEMONYM)) !== 0) return false;
  return (t.flags & (F.COMMON | F.HONORIFIC)) !== 0 || WORDY.test(t.lower);
}

/** Collects the run of capitalised words (with particles and initials) that starts at i. */
export function runEnd(tokens: readonly Token[], i: number, shout: boolean): number {
  let last = i;
  let j = i + 1;
  while (j < tokens.length) {
    const t = tokens[j];
    if (t === undefined || t.newlines > 0) break;
    if (isCapWord(t, shout) || (t.kind === Kind.Word && t.shape === Shape.Initial)) {
      if ((t.flags & F.UNIT) !== 0 && tokens[j + 1]?.kind === Kind.Number) break;
      last = j;
      j++;
    } else if (
      (t.punct === 38 || t.lower === 'and') &&
      isCapWord(tokens[j + 1], shout) &&
      ((tokens[j + 1]?.flags ?? 0) & F.ORG_SUFFIX) !== 0
    ) {
      // `Thomas and Sons`, `Smith & Partners`
      j++;
    } else if (t.punct === 46 && tokens[j - 1]?.shape === Shape.Initial && isCapWord(tokens[j + 1], shout)) {
      j++;
    } else if (
      t.kind === Kind.Word &&
      t.shape === Shape.Lower &&
      PARTICLES.has(t.lower) &&
      isCapWord(tokens[j + 1], shout)
    ) {
      j++;
    } else break;
  }
  return last;
}
