import { lexicon } from './lexicon.js';
import { NON_ASCII_LETTER } from './regexps.js';

/** Token kinds: a word of letters, a number (digits, maybe with - or /), a mix, or punctuation. */
export const enum Kind {
  Word,
  Number,
  Alnum,
  Punct,
}

/** Letter case of a word. */
export const enum Shape {
  Lower,
  /** Upper-case first letter, some lower case after (`Paris`, `McDonald`, `O'Neil`). */
  Title,
  /** Two or more letters, all upper case (`PARIS`, `IBM`). */
  Upper,
  /** One upper-case letter (`K` in `Soib K. Kishiev`). */
  Initial,
  /** Lower-case first letter with upper case later (`iPhone`), or no cased letters at all. */
  Other,
}

/**
 * One token. `lower` and `flags` are computed on first use: most words are never looked up.
 * Kind, shape, newlines and punctuation share one packed field: a 2 KB prompt has hundreds of
 * tokens, and four fewer fields each is a third less to allocate.
 */
export class Token {
  private lowerCache: string | undefined = undefined;
  private flagsCache = -1;
  private readonly bits: number;
  constructor(
    private readonly text: string,
    readonly start: number,
    readonly end: number,
    kind: Kind,
    shape: Shape,
    /** Newlines between this token and the one before (counted up to 255). */
    newlines: number,
    /** The char code for punctuation, else 0. */
    punct: number,
  ) {
    this.bits = kind | (shape << 2) | (Math.min(newlines, 255) << 5) | (punct << 13);
  }

  get kind(): Kind {
    return (this.bits & 3) as Kind;
  }

  get shape(): Shape {
    return ((this.bits >>> 2) & 7) as Shape;
  }

  /** Newlines between this token and the one before (counted up to 255). */
  get newlines(): number {
    return (this.bits >>> 5) & 255;
  }

  /** The char code for punctuation, else 0. */
  get punct(): number {
    return this.bits >>> 13;
  }

  /** Lower-cased text of a word ('' for other kinds). */
  get lower(): string {
    if (this.lowerCache === undefined) {
      if (this.kind !== Kind.Word) this.lowerCache = '';
      else {
        const raw = this.text.slice(this.start, this.end);
        this.lowerCache = this.shape === Shape.Lower ? raw : raw.toLowerCase();
      }
    }
    return this.lowerCache;
  }

  /** Lexicon flags of `lower` (0 for non-words and unknown words). */
  get flags(): number {
    if (this.flagsCache < 0) this.flagsCache = this.kind === Kind.Word ? lexicon().word(this.lower) : 0;
    return this.flagsCache;
  }

  get length(): number {
    return this.end - this.start;
  }
}

function isLetter(c: number, text: string, i: number): boolean {
  if (c < 128) return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
  if (c === 0x2019 || c === 0xa0) return false;
  return NON_ASCII_LETTER.test(text[i] ?? '');
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isSpace = (c: number): boolean =>
  c === 32 || c === 9 || c === 13 || c === 10 || c === 0xa0 || c === 0x3000;

/**
 * One linear pass over `text`. Words keep inner apostrophes and hyphens (`O'Neil`,
 * `Jean-Luc`) but drop a possessive `'s`. Offsets are UTF-16 indices.
 */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const n = text.length;
  let newlines = 0;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      if (c === 10) newlines++;
      i++;
      continue;
    }
    if (!isDigit(c) && !isLetter(c, text, i)) {
      // Surrogate pairs (emoji, rare scripts) are skipped whole so offsets stay on boundaries.
      const width = c >= 0xd800 && c <= 0xdbff && i + 1 < n ? 2 : 1;
      if (
        c < 128 ||
        c === 0x2019 ||
        c === 0x201c ||
        c === 0x201d ||
        c === 0x2022 ||
        c === 0x2013 ||
        c === 0x2014
      ) {
        out.push(new Token(text, i, i + width, Kind.Punct, Shape.Other, newlines, c));
        newlines = 0;
      }
      i += width;
      continue;
    }
    const start = i;
    let upper = 0;
    let lower = 0;
    let digits = 0;
    let firstUpper = false;
    while (i < n) {
      const d = text.charCodeAt(i);
      if (d < 128) {
        if (d >= 97 && d <= 122) lower++;
        else if (d >= 65 && d <= 90) {
          upper++;
          if (i === start) firstUpper = true;
        } else if (d >= 48 && d <= 57) digits++;
        else if ((d === 39 || d === 45) && i + 1 < n && isLetter(text.charCodeAt(i + 1), text, i + 1)) {
          // `'s` at the end is a possessive, not part of the word.
          const next = text.charCodeAt(i + 1);
          if (d === 39 && (next === 115 || next === 83) && !isLetter(text.charCodeAt(i + 2), text, i + 2))
            break;
        } else if (
          (d === 45 || d === 47) &&
          digits > 0 &&
          upper + lower === 0 &&
          i + 1 < n &&
          isDigit(text.charCodeAt(i + 1))
        ) {
          // 3610-114, 8/14: one number.
        } else break;
      } else if (d === 0x2019) {
        if (!(i + 1 < n && isLetter(text.charCodeAt(i + 1), text, i + 1))) break;
        const next = text.charCodeAt(i + 1);
        if ((next === 115 || next === 83) && !isLetter(text.charCodeAt(i + 2), text, i + 2)) break;
      } else if (isLetter(d, text, i)) {
        const ch = text[i] as string;
        if (ch.toLowerCase() !== ch) {
          upper++;
          if (i === start) firstUpper = true;
        } else if (ch.toUpperCase() !== ch) lower++;
        else lower++; // uncased scripts (CJK, Arabic) read as lower case
      } else break;
      i++;
    }
    const letters = upper + lower;
    if (letters === 0) out.push(new Token(text, start, i, Kind.Number, Shape.Other, newlines, 0));
    else if (digits > 0) out.push(new Token(text, start, i, Kind.Alnum, Shape.Other, newlines, 0));
    else {
      let shape: Shape;
      if (!firstUpper) shape = upper > 0 ? Shape.Other : Shape.Lower;
      else if (lower === 0) shape = upper === 1 ? Shape.Initial : Shape.Upper;
      else shape = Shape.Title;
      out.push(new Token(text, start, i, Kind.Word, shape, newlines, 0));
    }
    newlines = 0;
    if (i < n && (text.charCodeAt(i) === 39 || text.charCodeAt(i) === 0x2019)) {
      const next = text.charCodeAt(i + 1);
      if (next === 115 || next === 83) i += 2; // skip the possessive
    }
  }
  return out;
}
