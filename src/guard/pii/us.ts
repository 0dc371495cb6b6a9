/** US identifiers: US_SSN, ABA_ROUTING_NUMBER, and context-only US_PASSPORT / US_DRIVER_LICENSE / US_BANK_NUMBER. */
import type { Detection, Recognizer } from '../types.js';
import { contextScore, detection, digitsOf, forEachMatch, hasContext, words } from './shared.js';
import type { PiiPattern } from './shared.js';
import { type TextProfile, profileOf } from './profile.js';

export const US_PATTERNS = {
  ssn: {
    name: 'us_ssn',
    regex: /(?<![\w.-])(?:\d{3}([ .-])\d{2}\1\d{4}|\d{3}-?\d{2}-?\d{4})(?![\w]|[.-]\d)/g,
  },
  aba: { name: 'aba_routing', regex: /(?<![\w-])(?:\d{4}-\d{4}-\d|\d{9})(?![\w]|-\d)/g },
  itin: {
    name: 'us_itin',
    regex: /(?<![\w-])9\d{2}[ -]?(?:5\d|6[0-5]|7\d|8[0-8]|9[0-2]|9[4-9])[ -]?\d{4}(?![\w]|-\d)/g,
  },
  passport: { name: 'us_passport', regex: /(?<![\w-])[A-Z]?\d{8,9}(?![\w-])/g },
  driver: { name: 'us_driver_license', regex: /(?<![\w-])[A-Z]\d{6,12}(?![\w-])/g },
  bank: { name: 'us_bank_number', regex: /(?<![\w-])\d{8,17}(?![\w-])/g },
} as const satisfies Record<string, PiiPattern>;

const SSN_CONTEXT = words('ssn', 'social', 'security', 'ssns', 'ss', 'ssa');
const ABA_CONTEXT = words('routing', 'aba', 'transit', 'rtn', 'bank', 'aba#');
const ITIN_CONTEXT = words('itin', 'taxpayer', 'tax', 'individual');
const PASSPORT_CONTEXT = words('passport', 'travel', 'document');
const DRIVER_CONTEXT = words('driver', 'drivers', 'license', 'licence', 'dl', 'driving');
const BANK_CONTEXT = words('account', 'acct', 'bank', 'checking', 'savings', 'deposit');

/** Well-known invalid or advertised SSNs. */
const INVALID_SSNS = new Set(['078051120', '219099999', '123456789', '457555462']);

export function isValidSsn(raw: string): boolean {
  const d = digitsOf(raw);
  if (d.length !== 9 || new Set(d).size === 1 || INVALID_SSNS.has(d)) return false;
  const area = d.slice(0, 3);
  if (area === '000' || area === '666' || area[0] === '9') return false;
  return d.slice(3, 5) !== '00' && d.slice(5) !== '0000';
}

export function isValidAba(raw: string): boolean {
  const d = digitsOf(raw);
  if (d.length !== 9 || new Set(d).size === 1) return false;
  const prefix = Number(d.slice(0, 2));
  const prefixOk =
    prefix <= 12 || (prefix >= 21 && prefix <= 32) || (prefix >= 61 && prefix <= 72) || prefix === 80;
  const n = [...d].map(Number);
  const [a = 0, b = 0, c = 0, e = 0, f = 0, g = 0, h = 0, i = 0, j = 0] = n;
  const sum = 3 * (a + e + h) + 7 * (b + f + i) + (c + g + j);
  return prefixOk && sum % 10 === 0;
}

function recognizer(
  name: string,
  type: string,
  pattern: PiiPattern,
  gate: (profile: TextProfile) => boolean,
  judge: (raw: string, text: string, start: number, end: number) => number | undefined,
): Recognizer {
  return {
    name,
    types: [type],
    detect(text: string): Detection[] {
      const out: Detection[] = [];
      if (!gate(profileOf(text))) return out;
      forEachMatch(pattern.regex, text, (m) => {
        const s = m.index;
        const e = s + m[0].length;
        const score = judge(m[0], text, s, e);
        if (score !== undefined) out.push(detection(type, s, e, score, name));
      });
      return out;
    },
  };
}

export function createUsRecognizers(): Recognizer[] {
  return [
    recognizer(
      'us_ssn',
      'US_SSN',
      US_PATTERNS.ssn,
      (p) => p.maxChain >= 9,
      (raw, text, s, e) => {
        if (!isValidSsn(raw)) return undefined;
        const plain = digitsOf(raw) === raw;
        // INVARIANT: nine bare digits are an SSN only next to an SSN context word.
        if (plain) return hasContext(text, s, e, SSN_CONTEXT) ? 0.75 : undefined;
        const fullyDelimited = raw.length === 11 && raw[3] === raw[6];
        return contextScore(text, s, e, fullyDelimited ? 0.6 : 0.4, SSN_CONTEXT);
      },
    ),
    recognizer(
      'aba_routing',
      'ABA_ROUTING_NUMBER',
      US_PATTERNS.aba,
      (p) => p.maxChain >= 9,
      (raw, text, s, e) => {
        if (!isValidAba(raw)) return undefined;
        const ctx = hasContext(text, s, e, ABA_CONTEXT);
        if (raw.includes('-')) return ctx ? 0.85 : 0.5;
        return ctx ? 0.7 : undefined;
      },
    ),
    recognizer(
      'us_itin',
      'US_ITIN',
      US_PATTERNS.itin,
      (p) => p.maxChain >= 9,
      (raw, text, s, e) => contextScore(text, s, e, digitsOf(raw) === raw ? 0.3 : 0.5, ITIN_CONTEXT),
    ),
    recognizer(
      'us_passport',
      'US_PASSPORT',
      US_PATTERNS.passport,
      (p) => p.maxDigitRun >= 8,
      (_raw, text, s, e) => (hasContext(text, s, e, PASSPORT_CONTEXT) ? 0.6 : undefined),
    ),
    recognizer(
      'us_driver_license',
      'US_DRIVER_LICENSE',
      US_PATTERNS.driver,
      (p) => p.maxDigitRun >= 6,
      (_raw, text, s, e) => (hasContext(text, s, e, DRIVER_CONTEXT) ? 0.55 : undefined),
    ),
    recognizer(
      'us_bank_number',
      'US_BANK_NUMBER',
      US_PATTERNS.bank,
      (p) => p.maxDigitRun >= 8,
      (_raw, text, s, e) => (hasContext(text, s, e, BANK_CONTEXT) ? 0.5 : undefined),
    ),
  ];
}
