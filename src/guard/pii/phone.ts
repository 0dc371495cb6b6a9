/**
 * PHONE_NUMBER: candidates are cut out by `phone-scan.ts`, then each is handed to
 * libphonenumber's `findPhoneNumbersInText` (full metadata), trying the default countries in
 * order; a number written with a leading '+' needs no default country. Shapes that belong to
 * other recognizers (SSN, ISO dates, IPv4) are left to them.
 */
import { isIP } from 'node:net';
import { findPhoneNumbersInText, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { CountryCode } from 'libphonenumber-js';
import type { Detection, Recognizer } from '../types.js';
import { isValidCard } from './credit-card.js';
import { contextScore, detection, hasContext, luhnValid, words } from './shared.js';
import { phoneCandidates } from './phone-scan.js';

/** Default countries for national formats, tried in order (US first). */
export const DEFAULT_PHONE_COUNTRIES: readonly CountryCode[] = [
  'US',
  'GB',
  'DE',
  'FR',
  'IT',
  'ES',
  'NL',
  'BE',
  'CH',
  'AT',
  'SE',
  'DK',
  'NO',
  'FI',
  'PL',
  'CZ',
  'AU',
  'IN',
  'IL',
  'BR',
  'JP',
  'CN',
  'CA',
  'IE',
];

const CONTEXT = words(
  'phone',
  'tel',
  'telephone',
  'mobile',
  'cell',
  'call',
  'fax',
  'contact',
  'number',
  'whatsapp',
  'telefon',
  'téléphone',
  'telefono',
  'teléfono',
  'handy',
  'ph',
);

export interface PhoneOptions {
  /** Countries whose national formats are accepted, in order. Default: DEFAULT_PHONE_COUNTRIES. */
  readonly countries?: readonly CountryCode[];
}

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Digit groups of the text, e.g. "078-05-1120" → [3, 2, 4]. */
function groups(s: string): number[] {
  const out: number[] = [];
  let n = 0;
  for (let i = 0; i <= s.length; i++) {
    if (i < s.length && isDigitCode(s.charCodeAt(i))) n++;
    else if (n > 0) {
      out.push(n);
      n = 0;
    }
  }
  return out;
}

/**
 * Shapes owned by other recognizers or too weak alone: SSN (3-2-4), dates (4-2-2, d/m/y),
 * dotted IPv4, bare digit strings that are valid card numbers, and postal codes (5-3, 4-3).
 */
function ownedElsewhere(s: string): boolean {
  const international = s.startsWith('+') || s.includes('(');
  const g = groups(s);
  const shape = g.join('-');
  if (!international) {
    if (shape === '3-2-4') return true;
    if (['4-2-2', '2-2-4', '1-2-4', '2-1-4', '1-1-4'].includes(shape)) return true;
    // a Luhn-valid run of 12+ bare digits is far more often a card than a phone
    if (g.length === 1 && (g[0] ?? 0) >= 12 && luhnValid(s)) return true;
    if (g.length === 2 && s.includes('-') && g[1] === 3 && (g[0] ?? 0) >= 4) return true;
  }
  return isIP(s) !== 0;
}

/**
 * Context that says "not a phone": a time right after the number (a date-time's date part);
 * with no phone word nearby, a bare run of 7–9 digits, or a short national number followed by
 * a capitalised word (a street address "5521 119 Countess Close").
 */
function looksLikeAddressOrTime(
  text: string,
  start: number,
  end: number,
  snippet: string,
  digits: number,
): boolean {
  const next = text.charCodeAt(end + 1);
  if (text[end] === ':' && next >= 48 && next <= 57) return true;
  if (snippet.startsWith('+') || snippet.includes('(') || digits > 9) return false;
  // a bare run of 7–9 digits is as likely an id or an amount as a phone number
  if (groups(snippet).length === 1) return !hasContext(text, start, end, CONTEXT);
  const capital = next >= 65 && next <= 90;
  return text[end] === ' ' && capital && !hasContext(text, start, end, CONTEXT);
}

/**
 * Too loose to be one phone number: two or more single-digit groups ("1 2 3 4 5 6 7"), or more
 * than six groups. Checked before libphonenumber, which costs ~10–400 µs a call.
 */
function implausible(snippet: string): boolean {
  const g = groups(snippet);
  const singles = g.filter((n) => n === 1).length - (snippet.startsWith('+') && g[0] === 1 ? 1 : 0);
  return singles >= 2 || g.length > 6;
}

/**
 * Phone numbers inside one candidate as [start, end, score]. The whole candidate is parsed
 * for each default country in order and kept when valid; with a leading '+' no country is
 * needed, and a number that is only "possible" (an unassigned range) still counts, lower. A
 * long candidate that is not one number (two numbers side by side) is searched with
 * `findPhoneNumbersInText` for the first country.
 */
function validate(
  snippet: string,
  digits: number,
  countries: readonly CountryCode[],
): [number, number, number][] {
  if (implausible(snippet) || ownedElsewhere(snippet) || isValidCard(snippet)) return [];
  const whole: [number, number, number][] = [[0, snippet.length, 0.6]];
  if (snippet.startsWith('+')) {
    const parsed = parsePhoneNumberFromString(snippet);
    if (parsed?.isValid()) return whole;
    if (parsed?.isPossible()) return [[0, snippet.length, 0.45]];
  } else {
    for (const country of countries) {
      if (parsePhoneNumberFromString(snippet, country)?.isValid()) return whole;
    }
  }
  if (digits < 12) return [];
  const first = countries[0];
  const found = findPhoneNumbersInText(snippet, first ? { defaultCountry: first } : {});
  return found.map((f) => [f.startsAt, f.endsAt, 0.6]);
}

export function createPhoneRecognizer(options: PhoneOptions = {}): Recognizer {
  const countries = options.countries ?? DEFAULT_PHONE_COUNTRIES;
  return {
    name: 'phone',
    types: ['PHONE_NUMBER'],
    detect(text: string): Detection[] {
      const out: Detection[] = [];
      // A number repeated in one text (a signature, a quoted thread) is parsed once: parsing is
      // the costly part. Kept for this call only, so no number outlives the scan.
      const validated = new Map<string, [number, number, number][]>();
      for (const cand of phoneCandidates(text)) {
        const snippet = text.slice(cand.start, cand.end);
        let spans = validated.get(snippet);
        if (spans === undefined) {
          spans = validate(snippet, cand.digits, countries);
          validated.set(snippet, spans);
        }
        for (const [s, e, score] of spans) {
          const start = cand.start + s;
          const end = cand.start + e;
          const inner = text.slice(start, end);
          if (ownedElsewhere(inner)) continue;
          if (looksLikeAddressOrTime(text, start, end, inner, cand.digits)) continue;
          // a bare run of 10+ digits (no '+', no separators) is often an id or a token
          const bare = groups(inner).length === 1 && !inner.startsWith('+');
          const base = bare ? Math.min(score, 0.35) : score;
          out.push(
            detection('PHONE_NUMBER', start, end, contextScore(text, start, end, base, CONTEXT), 'phone'),
          );
        }
      }
      return out;
    },
  };
}
