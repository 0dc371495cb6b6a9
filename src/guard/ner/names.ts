import { cueBefore, sentenceStart } from './context.js';
import { F, type Lexicon, NAME, PLACE } from './lexicon.js';
import { lowerCase, lowerCue } from './lowercase.js';
import { employers, listPeople } from './people.js';
import { ENTITY, isCapWord, ordinary, runEnd } from './runs.js';
import type { Candidate, NameSpan, NameType } from './span.js';
import { Kind, Shape, type Token } from './tokenize.js';

export type { NameSpan, NameType } from './span.js';

/** Verbs that mostly follow a person's name (`Trivo lives on`, `says Iwase`). */
const PERSON_VERBS = new Set([
  'lives',
  'lived',
  'said',
  'says',
  'told',
  'asked',
  'wrote',
  'writes',
  'began',
  'spent',
  'works',
  'worked',
  'studied',
  'married',
  'died',
  'joined',
  'grew',
  'smiled',
  'replied',
  'explained',
  'thinks',
  'thought',
  'wants',
  'wanted',
  'loves',
  'loved',
  'likes',
  'liked',
  'went',
  'came',
  'felt',
  'knew',
  'met',
  'called',
  'emailed',
  'texted',
]);

const THRESHOLD = 1.5;

function possessiveAfter(text: string, t: Token): boolean {
  const c = text.charCodeAt(t.end);
  return (c === 39 || c === 0x2019) && (text.charCodeAt(t.end + 1) | 32) === 115;
}

/** Flags of the longest gazetteer phrase over the words of [a, b], or 0. */
function phraseOf(tokens: readonly Token[], a: number, b: number, lex: Lexicon): number {
  if ((tokens[a]?.flags ?? 0) & F.HEAD) {
    let key = tokens[a]?.lower ?? '';
    let found = 0;
    for (let k = a + 1; k <= b && k - a < lex.maxPhraseWords; k++) {
      const t = tokens[k] as Token;
      if (t.kind !== Kind.Word) continue;
      key += ' ' + t.lower;
      const f = lex.phrase(key);
      if (f !== 0 && k === b) found = f;
    }
    return found;
  }
  return 0;
}

/**
 * A last word that is ordinary alone but names something after a name: `Tim Cook` (a given
 * name before it), `European Commission` (an organisation or place noun after a proper word).
 */
function keepLast(tokens: readonly Token[], a: number, b: number): boolean {
  if (b <= a) return false;
  const last = tokens[b] as Token;
  const prev = tokens[b - 1] as Token;
  if ((last.flags & F.STOP) !== 0 || last.shape !== Shape.Title || ordinary(prev)) return false;
  if ((prev.flags & F.FIRST) !== 0 && clean(prev.flags)) return true;
  return (last.flags & (F.ORG_SUFFIX | F.PLACE_SUFFIX)) !== 0;
}

function clean(f: number): boolean {
  return (f & (F.COMMON | F.STOP)) === 0;
}

/** Weighs one capitalised run [a, b]; undefined when it holds only ordinary words. */
function weigh(
  text: string,
  tokens: readonly Token[],
  a: number,
  b: number,
  lex: Lexicon,
): Candidate | undefined {
  const start = a;
  const whole = phraseOf(tokens, a, b, lex);
  const cue0 = cueBefore(tokens, a);
  if (whole === 0) {
    // Trim ordinary words (`Please`, `The`, `Thanks`) at both ends; keep `New` in `New Westminster`.
    while (a <= b && ordinary(tokens[a] as Token) && !(cue0.honorific && a === b)) {
      if (
        a < b &&
        ((tokens[a] as Token).flags & F.PLACE_PREFIX) !== 0 &&
        ((tokens[a] as Token).flags & F.STOP) === 0
      )
        break;
      a++;
    }
    while (b >= a && ordinary(tokens[b] as Token) && !(cue0.honorific && a === b) && !keepLast(tokens, a, b))
      b--;
    if (a > b) return undefined;
    // `Mr. Dr.`: an honorific kept after another honorific is not a name itself.
    if (a === b && ((tokens[a] as Token).flags & F.HONORIFIC) !== 0) return undefined;
  }
  const first = tokens[a] as Token;
  const last = tokens[b] as Token;
  const phrase = whole !== 0 ? whole : a < b ? phraseOf(tokens, a, b, lex) : 0;
  let m = 0;
  let allPlace = true;
  let initials = false;
  let known = (phrase & ENTITY) !== 0;
  for (let k = a; k <= b; k++) {
    const t = tokens[k] as Token;
    if (t.kind !== Kind.Word) continue;
    m++;
    if ((t.flags & PLACE) === 0) allPlace = false;
    if (t.shape === Shape.Initial) initials = true;
    if ((t.flags & ENTITY) !== 0) known = true;
  }
  const cue = a === start ? cue0 : cueBefore(tokens, a);
  const c: Candidate = {
    first: a,
    last: b,
    person: cue.person,
    location: cue.location,
    org: cue.org,
    nrp: false,
    unknown: !known,
    words: m,
  };
  const f0 = first.flags;
  const fl = last.flags;
  if ((f0 & F.FIRST) !== 0) c.person += clean(f0) && (f0 & PLACE) === 0 ? 2 : 0.75;
  else if ((f0 & F.CENSUS) !== 0 && clean(f0)) c.person += m >= 2 ? 1 : 0.75;
  if (m >= 2 && (fl & (F.LAST | F.CENSUS)) !== 0 && (fl & PLACE) === 0) c.person += 1;
  if (m >= 2 && initials) c.person += 1.5;
  if (possessiveAfter(text, last)) c.person += 0.5;
  const after = tokens[b + 1];
  if (
    after !== undefined &&
    after.kind === Kind.Word &&
    after.shape === Shape.Lower &&
    PERSON_VERBS.has(after.lower)
  )
    c.person += 1.5;
  if ((phrase & PLACE) !== 0 || (m === 1 && allPlace)) c.location += (f0 & NAME) !== 0 && m === 1 ? 1.5 : 2.5;
  else if (allPlace) c.location += 1.5;
  if (m >= 2 && ((fl & F.PLACE_SUFFIX) !== 0 || (f0 & F.PLACE_PREFIX) !== 0)) c.location += 1.5;
  // `Rue Ibn El-Jazzar`, `Crown Street`: a street name that escaped the address finder.
  if (m >= 2 && ((f0 & (F.STREET | F.HONORIFIC)) === F.STREET || (fl & F.STREET) !== 0)) c.location += 2;
  if ((phrase & F.ORG) !== 0 || (m === 1 && (f0 & F.ORG) !== 0)) c.org += 3;
  if (m >= 2 && (fl & F.ORG_SUFFIX) !== 0) c.org += 2.5;
  if (m === 1 && (f0 & F.DEMONYM) !== 0 && c.location < 2) c.nrp = true;
  // Two or three capitalised words that nothing else claims are most often a person's name.
  if (m >= 2 && c.location < 1 && c.org < 1 && clean(f0)) c.person = Math.max(c.person, 1.5);
  if (m === 1 && !known && !sentenceStart(tokens, a)) c.person += 0.5;
  return c;
}

function decide(c: Candidate): NameSpan | undefined {
  if (c.nrp) return { first: c.first, last: c.last, type: 'NRP', score: 0.6 };
  const best = Math.max(c.person, c.location, c.org);
  if (best < THRESHOLD) return undefined;
  const score = Math.min(0.95, 0.45 + best / 8);
  const type: NameType = c.org === best ? 'ORGANIZATION' : c.person === best ? 'PERSON' : 'LOCATION';
  return { first: c.first, last: c.last, type, score };
}

function byFirst(x: NameSpan, y: NameSpan): number {
  return x.first - y.first;
}

/** Typed name spans over the tokens, in order. */
export function findNames(text: string, tokens: readonly Token[], lex: Lexicon): NameSpan[] {
  let upper = 0;
  let cased = 0;
  let capitals = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (t.kind !== Kind.Word) continue;
    cased++;
    if (t.shape === Shape.Upper) upper++;
    else if (t.shape === Shape.Title && !sentenceStart(tokens, i)) capitals++;
  }
  const shout = cased >= 4 && upper * 2 > cased;
  // Lower-case names are looked for only in text written mostly without capitals.
  const quiet = capitals * 10 < cased;
  const cands: Candidate[] = [];
  const lower: NameSpan[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (t.kind !== Kind.Word) continue;
    if (isCapWord(t, shout)) {
      const end = runEnd(tokens, i, shout);
      const c = weigh(text, tokens, i, end, lex);
      if (c !== undefined) cands.push(c);
      i = end;
    } else if (quiet && t.shape === Shape.Lower && lowerCue(tokens[i - 1], tokens[i - 2])) {
      const span = lowerCase(tokens, i);
      if (span !== undefined) {
        lower.push(span);
        i = span.last;
      }
    }
  }
  const decided = cands.map(decide);
  // Names seen in full are names again alone (`Joakim Westgård … starring Westgård`).
  const seen = new Set<string>();
  for (const d of decided) {
    if (d?.type === 'PERSON' && d.last > d.first)
      for (let k = d.first; k <= d.last; k++) seen.add(tokens[k]?.lower ?? '');
  }
  for (let k = 0; k < cands.length; k++) {
    if (decided[k] !== undefined) continue;
    const c = cands[k] as Candidate;
    const again = c.words === 1 && seen.has(tokens[c.first]?.lower ?? '');
    if (again && c.person > 0) decided[k] = { first: c.first, last: c.last, type: 'PERSON', score: 0.5 };
  }
  listPeople(tokens, cands, decided);
  employers(tokens, cands, decided);
  const out: NameSpan[] = [];
  for (const d of decided) if (d !== undefined) out.push(d);
  if (lower.length === 0) return out;
  return out.concat(lower).sort(byFirst);
}
