import { STREET_WORDS } from './data/cues.js';
import { F } from './lexicon.js';
import { PARTICLES } from './runs.js';
import { Kind, Shape, type Token } from './tokenize.js';

/** A token range [first, last], inclusive. */
export interface TokenSpan {
  readonly first: number;
  readonly last: number;
}

/** Street-name endings of compound words (`Kopfhölzistrasse`, `Wingertweg`, `Magrethevej`). */
const STREET_ENDINGS = [
  'strasse',
  'straße',
  'gasse',
  'weg',
  'platz',
  'allee',
  'vej',
  'gade',
  'vägen',
  'gatan',
  'veien',
  'katu',
  'kuja',
  'polku',
  'laan',
  'straat',
  'gracht',
  'steeg',
  'utca',
  'street',
  'road',
  'avenue',
];

/** Street words short enough to start a lower-case address (`ul. Słowicza 10`, `rue du centre`). */
const SHORT_STREETS = new Set(STREET_WORDS.split('|').filter((w) => w.length <= 6));

/** Unit words that, followed by a number, are an address on their own. */
const STRONG_UNITS = new Set(['suite', 'ste', 'apt', 'apartment', 'unit', 'box', 'psc', 'flat', 'cmr']);

function isCap(t: Token | undefined): boolean {
  return t !== undefined && t.kind === Kind.Word && (t.shape === Shape.Title || t.shape === Shape.Upper);
}
function isNum(t: Token | undefined): boolean {
  return t !== undefined && (t.kind === Kind.Number || (t.kind === Kind.Alnum && t.end - t.start <= 5));
}
function isPunct(t: Token | undefined, c: number): boolean {
  return t !== undefined && t.punct === c;
}

function isStreet(t: Token | undefined): boolean {
  if (t === undefined || t.kind !== Kind.Word) return false;
  if ((t.flags & F.STREET) !== 0) return true;
  if (t.end - t.start < 6) return false;
  const w = t.lower;
  for (const e of STREET_ENDINGS) if (w.length >= e.length + 3 && w.endsWith(e)) return true;
  return false;
}

/** Skips an optional `.` or `#` after a unit word; returns the index of the number or -1. */
function unitNumber(tokens: readonly Token[], i: number): number {
  let j = i + 1;
  if (isPunct(tokens[j], 46) || isPunct(tokens[j], 35)) j++;
  return isNum(tokens[j]) && tokens[j]?.newlines === 0 ? j : -1;
}

/** Finds the smallest clearly-address run that starts at token i, or undefined. */
function core(tokens: readonly Token[], i: number): TokenSpan | undefined {
  const t = tokens[i];
  if (t === undefined) return undefined;
  if (isNum(t)) {
    // 6688 Kopfhölzistrasse 45 | 0547 Bygget 91 | 123 Main St
    let j = i + 1;
    // `5112 39 Rue Ibn El-Jazzar`: a house number after a building number.
    if (isNum(tokens[j]) && tokens[j]?.newlines === 0 && isCap(tokens[j + 1])) j++;
    let caps = 0;
    let street = false;
    while (j - i <= 7 && tokens[j]?.newlines === 0) {
      const w = tokens[j];
      if ((isCap(w) && ((w?.flags ?? 0) & F.STOP) === 0) || isStreet(w)) {
        caps++;
        if (((w?.flags ?? 0) & F.STREET) !== 0) street = true;
      } else if (!(
        w !== undefined &&
        w.kind === Kind.Word &&
        (w.flags & F.STOP) === 0 &&
        w.end - w.start <= 3
      )) {
        // `Kálmán Imre u. 12.`: a short abbreviation with its dot.
        if (!(isPunct(w, 46) && (tokens[j - 1]?.end ?? 0) - (tokens[j - 1]?.start ?? 0) <= 2 && caps > 0))
          break;
      }
      j++;
    }
    if (caps === 0) return undefined;
    if (isNum(tokens[j]) && tokens[j]?.newlines === 0) return { first: i, last: j };
    if (isPunct(tokens[j - 1], 46)) j--;
    // `123 Main St`, `1737 Cheriton Dr Reuquén Extensions`: a street word among two or more.
    if (street && caps >= 2) return { first: i, last: j - 1 };
    return undefined;
  }
  if (t.kind !== Kind.Word) return undefined;
  if (t.shape === Shape.Lower) {
    // Only a lower-case street or unit word before a name or number can start an address.
    const nx = tokens[i + 1];
    if (nx === undefined || !(isCap(nx) || isNum(nx) || nx.punct === 46) || t.end - t.start > 6)
      return undefined;
    // A small set instead of the lexicon: `to`, `at`, `in` before a name are the usual case here.
    if (!STRONG_UNITS.has(t.lower) && !SHORT_STREETS.has(t.lower)) return undefined;
  }
  if (STRONG_UNITS.has(t.lower)) {
    const j = unitNumber(tokens, i);
    return j < 0 ? undefined : { first: i, last: j };
  }
  if (isStreet(t) && (isCap(t) || t.end - t.start <= 3)) {
    // Rua Diadema 1903 | ul. Słowicza 10 | Kopfhölzistrasse 45
    let j = i + 1;
    if (isPunct(tokens[j], 46)) j++;
    let words = 0;
    while (words < 5 && tokens[j]?.newlines === 0) {
      const w = tokens[j];
      if (isCap(w)) words++;
      else if (!(w !== undefined && w.kind === Kind.Word && PARTICLES.has(w.lower) && isCap(tokens[j + 1])))
        break;
      j++;
    }
    const compound = (t.flags & F.STREET) === 0;
    if ((words >= 1 || compound) && isNum(tokens[j]) && tokens[j]?.newlines === 0)
      return { first: i, last: j };
    return undefined;
  }
  // Grössgstötten 50 street
  const n1 = tokens[i + 1];
  const n2 = tokens[i + 2];
  if (
    isCap(t) &&
    (t.flags & F.STOP) === 0 &&
    isNum(n1) &&
    n1?.newlines === 0 &&
    isStreet(n2) &&
    n2?.newlines === 0
  ) {
    return { first: i, last: i + 1 };
  }
  // City, ST 12345 | APO AP 28906
  if (
    t.shape === Shape.Upper &&
    t.end - t.start === 2 &&
    isNum(tokens[i + 1]) &&
    tokens[i + 1]?.newlines === 0
  ) {
    const z = tokens[i + 1];
    if (z !== undefined && z.end - z.start >= 5) return { first: i, last: i + 1 };
  }
  return undefined;
}

const MAX_NEWLINES = 4;
const LEADS = new Set([62, 63, 42, 45, 0x2022, 124, 35]);
const MAX_TOKENS = 30;
const MILITARY = new Set(['apo', 'fpo', 'dpo']);

/** Grows an address core over the rest of the address: units, city, region, zip, country. */
function extend(tokens: readonly Token[], span: TokenSpan): TokenSpan {
  let first = span.first;
  // Only `City, ST 12345` grows leftwards over words; other cores start where the address does.
  const stateZip =
    tokens[first]?.shape === Shape.Upper && (tokens[first]?.end ?? 0) - (tokens[first]?.start ?? 0) === 2;
  while (first > 0) {
    const p = tokens[first - 1];
    const here = tokens[first];
    if (p === undefined || here === undefined || here.newlines > 0) break;
    if (isNum(p)) first--;
    else if (
      stateZip &&
      ((isCap(p) && (p.flags & F.STOP) === 0 && here.kind === Kind.Word) || isPunct(p, 44))
    )
      first--;
    else break;
    if (span.first - first >= 4) break;
  }
  if (isPunct(tokens[first], 44)) first++;
  // US military mail: `USNS Sekerková\nFPO AA 65728` — the unit's line belongs to the address.
  const head = tokens[first];
  if (head !== undefined && head.newlines > 0 && MILITARY.has(head.lower)) {
    let k = first - 1;
    while (k > 0 && tokens[k]?.newlines === 0) k--;
    if (k >= 0 && first - k <= 4) first = k;
  }
  let last = span.last;
  let lines = 0;
  while (last + 1 < tokens.length && last - span.last < MAX_TOKENS) {
    const t = tokens[last + 1];
    if (t === undefined) break;
    lines += t.newlines;
    if (lines > MAX_NEWLINES) break;
    const prev = tokens[last];
    let ok = false;
    if (isNum(t)) ok = true;
    else if (t.kind === Kind.Word) {
      const strong = (t.flags & (F.COUNTRY | F.REGION | F.CITY)) !== 0;
      if (isCap(t)) ok = strong || (t.flags & F.STOP) === 0 || (t.flags & (F.UNIT | F.STREET)) !== 0;
      else
        ok =
          isStreet(t) ||
          (t.flags & F.UNIT) !== 0 ||
          (t.newlines === 0 && isCap(tokens[last + 2]) && t.end - t.start <= 3);
    } else if (t.kind === Kind.Punct) {
      // Line prefixes of quoted or bulleted addresses: `> Suite 858`, `??? Zuoz`, `- Oslo`.
      const lead =
        t.newlines > 0 ||
        (prev !== undefined && prev.kind === Kind.Punct && LEADS.has(prev.punct) && t.punct === prev.punct);
      if (lead && LEADS.has(t.punct)) ok = true;
      else if (t.punct === 44 || t.punct === 35 || t.punct === 45 || t.punct === 47) ok = true;
      else if (t.punct === 46 && prev !== undefined) {
        const nx = tokens[last + 2];
        ok = prev.kind === Kind.Word ? prev.end - prev.start <= 4 : nx !== undefined && nx.newlines > 0;
      }
    }
    if (!ok) break;
    last++;
  }
  while (last > first && tokens[last]?.kind === Kind.Punct && !isPunct(tokens[last], 46)) last--;
  if (isPunct(tokens[last], 46) && !(tokens[last - 1]?.kind === Kind.Word)) last--;
  return { first, last };
}

/** Address spans (LOCATION) over the token list, in order, not overlapping. */
export function findAddresses(tokens: readonly Token[]): TokenSpan[] {
  const out: TokenSpan[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const c = core(tokens, i);
    if (c === undefined) continue;
    const span = extend(tokens, c);
    const prev = out[out.length - 1];
    if (prev !== undefined && span.first <= prev.last + 1)
      out[out.length - 1] = { first: prev.first, last: Math.max(prev.last, span.last) };
    else out.push(span);
    i = Math.max(i, span.last);
  }
  return out;
}

/**
 * An address cut at line breaks and commas (`Suite 408` / `Ependes` / `Switzerland 82590`), each
 * part trimmed of punctuation: redaction leaves the layout, and each part is a place on its own.
 */
export function addressParts(tokens: readonly Token[], span: TokenSpan): TokenSpan[] {
  const out: TokenSpan[] = [];
  let first = -1;
  let last = -1;
  const flush = (): void => {
    if (first >= 0) out.push({ first, last });
    first = -1;
  };
  for (let k = span.first; k <= span.last; k++) {
    const t = tokens[k] as Token;
    if (t.newlines > 0) flush();
    if (t.kind === Kind.Punct) {
      if (t.punct === 44) flush();
      else if (first >= 0 && (t.punct === 46 || t.punct === 45 || t.punct === 47 || t.punct === 35)) last = k;
      continue;
    }
    if (first < 0) first = k;
    last = k;
  }
  flush();
  return out;
}
