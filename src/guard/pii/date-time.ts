/**
 * DATE_TIME: ISO timestamps, numeric dates (validated day/month), written dates, weekdays,
 * clock times and standalone years 1900–2099. Scores are moderate: dates are weakly sensitive
 * alone and matter mostly next to other identifiers.
 */
import type { Detection, Recognizer } from '../types.js';
import { contextScore, detection, forEachMatch, words } from './shared.js';
import type { PiiPattern } from './shared.js';
import { type TextProfile, profileOf } from './profile.js';

const MONTH =
  '(?:January|February|March|April|May|June|July|August|September|October|November|December|' +
  'Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)';
const ORD = '(?:st|nd|rd|th)?';

export const DATE_PATTERNS: readonly PiiPattern[] = [
  {
    name: 'iso_datetime',
    regex:
      /(?<![\w.-])\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w]|-\d)/g,
  },
  { name: 'numeric_date', regex: /(?<![\w./-])\d{1,2}([/.-])\d{1,2}\1(?:\d{4}|\d{2})(?![\w]|[/.-]\d)/g },
  {
    name: 'written_date',
    regex: new RegExp(
      `(?<![\\w])(?:${MONTH}\\.? \\d{1,2}${ORD}(?:,? \\d{4})?|\\d{1,2}${ORD} (?:of )?${MONTH}(?:,? \\d{4})?|` +
        `\\d{1,2}-${MONTH}(?:-\\d{2,4})?|${MONTH},? \\d{4})(?![\\w])`,
      'g',
    ),
  },
  {
    name: 'weekday',
    regex:
      /(?<![\w])(?:[Mm]onday|[Tt]uesday|[Ww]ednesday|[Tt]hursday|[Ff]riday|[Ss]aturday|[Ss]unday)(?![\w])/g,
  },
  {
    name: 'time',
    regex:
      /(?<![\w:.+-])\d{1,2}:\d{2}(?::\d{2})?(?: ?[AaPp]\.?[Mm]\.?)?(?![\w:]|\.\d)|(?<![\w])\d{1,2} ?(?:am|pm|AM|PM)(?![\w])/g,
  },
  { name: 'year', regex: /(?<![\w.,/:-])(?:19|20)\d{2}(?![\w]|[.,/-]\d|:[0-9A-Fa-f])/g },
];

/** Every month name of MONTH starts with one of these (case as in MONTH). */
export const MONTH_GATE: PiiPattern = {
  name: 'month_gate',
  regex: /(?:Jan|Feb|Ma[ry]|Apr|Ju[nl]|Aug|Sep|Oct|Nov|Dec)/,
};

/** Every weekday name ends in it. */
export const WEEKDAY_ANCHOR: PiiPattern = { name: 'weekday_anchor', regex: /day/g };

/** Speed only: false when the pattern cannot match a text of this profile. */
const GATES: Readonly<Record<string, (p: TextProfile, text: string) => boolean>> = {
  iso_datetime: (p) => p.maxChain >= 8,
  numeric_date: (p) => p.digitSepDigit,
  written_date: (p, text) => p.maxDigitRun > 0 && MONTH_GATE.regex.test(text),
  weekday: (_p, text) => text.includes('day'),
  time: (p) => p.maxDigitRun > 0,
  year: (p) => p.yearRun,
};

const CONTEXT = words('date', 'dated', 'born', 'birth', 'dob', 'since', 'year', 'until', 'expires', 'expiry');
const YEAR_LEADS = new Set(['a', 'an', 'the', 'in', 'since', 'of', 'by', 'from', 'year', 'until']);

const SCORES: Readonly<Record<string, number>> = {
  iso_datetime: 0.85,
  numeric_date: 0.6,
  written_date: 0.7,
  weekday: 0.5,
  time: 0.5,
  year: 0.45,
};

function numericDateOk(raw: string): boolean {
  const sep = raw[1] === '/' || raw[1] === '.' || raw[1] === '-' ? 1 : 2;
  const a = Number(raw.slice(0, sep));
  const b = Number(raw.slice(sep + 1, raw.indexOf(raw[sep] ?? '/', sep + 1)));
  // month/day/year or day/month/year
  return (a >= 1 && a <= 12 && b >= 1 && b <= 31) || (b >= 1 && b <= 12 && a >= 1 && a <= 31);
}

function isCapital(c: number): boolean {
  return c >= 65 && c <= 90;
}

/** A bare year next to a capitalised word is more often a house number ("2060 Avenida ..."). */
function yearLooksLikeHouseNumber(text: string, start: number, end: number): boolean {
  let i = start - 2;
  while (i >= 0 && text[i] !== ' ' && text[i] !== '\n') i--;
  const prevWord = start > 0 && text[start - 1] === ' ' ? text.slice(i + 1, start - 1) : '';
  if (YEAR_LEADS.has(prevWord.toLowerCase())) return false;
  if (text[end] === ' ' && isCapital(text.charCodeAt(end + 1))) return true;
  if (prevWord === '') return false;
  const sentenceStart = i < 0 || '.!?\n'.includes(text[i - 1] ?? '\n');
  return isCapital(prevWord.charCodeAt(0)) && !sentenceStart && !MONTH_WORDS.has(prevWord);
}

const MONTH_WORDS = new Set(MONTH.slice(3, -1).split('|'));

function isoOk(raw: string): boolean {
  const month = Number(raw.slice(5, 7));
  const day = Number(raw.slice(8, 10));
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/** A pattern's sticky copy, tried only at the positions its anchors allow. */
function stickyOf(name: string): RegExp {
  return new RegExp(DATE_PATTERNS.find((p) => p.name === name)?.regex.source ?? '(?!)', 'y');
}

/**
 * Where a pattern's matches can start relative to an anchor every match holds: a weekday name
 * ends in "day" and is 6–9 characters long, so it starts 3–6 characters before it; a written
 * date holds a month name that starts at most 8 characters in ("31st of March").
 */
interface Anchoring {
  readonly sticky: RegExp;
  readonly anchor: RegExp;
  readonly before: [max: number, min: number];
}
const ANCHORED: Readonly<Record<string, Anchoring>> = {
  weekday: { sticky: stickyOf('weekday'), anchor: WEEKDAY_ANCHOR.regex, before: [6, 3] },
  written_date: {
    sticky: stickyOf('written_date'),
    anchor: new RegExp(MONTH_GATE.regex.source, 'g'),
    before: [8, 0],
  },
};

/**
 * The matches a global scan of the pattern would give, found by trying its sticky copy only near
 * the anchors (most text has none, and a full scan tries every position).
 */
function forEachAnchored(
  { sticky, anchor, before }: Anchoring,
  text: string,
  fn: (match: RegExpExecArray) => void,
): void {
  let next = 0; // the global scan's lastIndex: candidates below it are never tried
  anchor.lastIndex = 0;
  for (let a = anchor.exec(text); a !== null; a = anchor.exec(text)) {
    const p = a.index;
    for (let s = Math.max(next, p - before[0]); s <= p - before[1]; s++) {
      sticky.lastIndex = s;
      const m = sticky.exec(text);
      if (m === null) continue;
      fn(m);
      next = s + m[0].length;
      s = next - 1;
    }
    next = Math.max(next, p - before[1] + 1);
    anchor.lastIndex = Math.max(anchor.lastIndex, next);
  }
  anchor.lastIndex = 0;
  sticky.lastIndex = 0;
}

export function createDateTimeRecognizer(): Recognizer {
  return {
    name: 'date_time',
    types: ['DATE_TIME'],
    detect(text: string): Detection[] {
      const found: Detection[] = [];
      const profile = profileOf(text);
      for (const { name, regex } of DATE_PATTERNS) {
        const gate = GATES[name];
        if (gate !== undefined && !gate(profile, text)) continue;
        const anchoring = ANCHORED[name];
        const each = (m: RegExpExecArray): void => {
          if (name === 'numeric_date' && !numericDateOk(m[0])) return;
          if (name === 'iso_datetime' && !isoOk(m[0])) return;
          const s = m.index;
          const e = s + m[0].length;
          const base = name === 'year' && yearLooksLikeHouseNumber(text, s, e) ? 0.2 : (SCORES[name] ?? 0.5);
          found.push(detection('DATE_TIME', s, e, contextScore(text, s, e, base, CONTEXT), 'date_time'));
        };
        if (anchoring) forEachAnchored(anchoring, text, each);
        else forEachMatch(regex, text, each);
      }
      // keep the longest of overlapping spans
      found.sort((x, y) => x.start - y.start || y.end - x.end);
      const out: Detection[] = [];
      for (const d of found) {
        const last = out[out.length - 1];
        if (last && d.start < last.end) continue;
        out.push(d);
      }
      return out;
    },
  };
}
