/**
 * One cheap pass over the digits of a text, shared by the pattern recognizers: the longest digit
 * run, the most digits in a chain of digit groups, the lengths of the words that hold digits. A recognizer whose pattern cannot
 * match a text with this profile returns at once instead of running its regex over it.
 *
 * The profile of the text being scanned is kept until the current synchronous scan ends (a
 * microtask clears it), so every recognizer of one `scan` shares one pass and no text outlives it.
 */

export interface TextProfile {
  /** Longest run of ASCII digits. */
  readonly maxDigitRun: number;
  /** Most digits in a chain of digit runs joined by single ' ', '.', '-' or '+' characters. */
  readonly maxChain: number;
  /** Bit n (n < 31) set when a maximal `\w` run holding a digit has length n; bit 31 for 31 or more. */
  readonly digitWordLengths: number;
  /** Some digit is followed by '/', '.' or '-' and another digit. */
  readonly digitSepDigit: boolean;
  /** Some maximal digit run is four digits starting 19 or 20. */
  readonly yearRun: boolean;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isWordCode(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function lengthBit(n: number): number {
  return 1 << Math.min(n, 31);
}

/** Finds the next digit natively: prose has few, so most of the text is skipped unread. */
const DIGIT = /[0-9]/g;

/** Computes the profile (no cache). Visits each digit once and each digit-holding word once. */
export function computeProfile(text: string): TextProfile {
  let maxDigitRun = 0;
  let maxChain = 0;
  let digitWordLengths = 0;
  let digitSepDigit = false;
  let yearRun = false;
  const n = text.length;
  let wordEnd = -1;
  let i = 0;
  for (;;) {
    DIGIT.lastIndex = i;
    const m = DIGIT.exec(text);
    if (m === null) break;
    // `j` starts a chain: the character before it is not a digit.
    let j = m.index;
    let chain = 0;
    for (;;) {
      let k = j + 1;
      while (k < n && isDigit(text.charCodeAt(k))) k++;
      const run = k - j;
      chain += run;
      if (run > maxDigitRun) maxDigitRun = run;
      if (run === 4) {
        const a = text.charCodeAt(j);
        const b = text.charCodeAt(j + 1);
        if ((a === 49 && b === 57) || (a === 50 && b === 48)) yearRun = true;
      }
      if (j >= wordEnd) {
        // the word (maximal [A-Za-z0-9_] run) around this digit run, measured once
        let s = j;
        while (s > 0 && isWordCode(text.charCodeAt(s - 1))) s--;
        let e = k;
        while (e < n && isWordCode(text.charCodeAt(e))) e++;
        digitWordLengths |= lengthBit(e - s);
        wordEnd = e;
      }
      const c = k < n ? text.charCodeAt(k) : 0;
      if (k + 1 < n && isDigit(text.charCodeAt(k + 1))) {
        if (c === 47 || c === 46 || c === 45) digitSepDigit = true;
        if (c === 32 || c === 46 || c === 45 || c === 43) {
          j = k + 1; // the chain goes on over one separator
          continue;
        }
      }
      i = k;
      break;
    }
    if (chain > maxChain) maxChain = chain;
  }
  DIGIT.lastIndex = 0;
  return { maxDigitRun, maxChain, digitWordLengths, digitSepDigit, yearRun };
}

let lastText: string | undefined;
let lastProfile: TextProfile | undefined;

/** The profile of `text`, shared by the recognizers of one synchronous scan. */
export function profileOf(text: string): TextProfile {
  if (lastProfile !== undefined && lastText === text) return lastProfile;
  const p = computeProfile(text);
  if (lastText === undefined) {
    queueMicrotask(() => {
      lastText = undefined;
      lastProfile = undefined;
    });
  }
  lastText = text;
  lastProfile = p;
  return p;
}
