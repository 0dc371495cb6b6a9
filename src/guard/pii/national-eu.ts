/** European national identifiers with a real check: UK_NHS, UK_NINO, ES_NIF/ES_NIE, IT_FISCAL_CODE, FI_PERSONAL_IDENTITY_CODE, PL_PESEL. */
import type { Recognizer } from '../types.js';
import { alnumUpper, checkedRecognizer, weightedSum } from './checked.js';
import { digitsOf, words } from './shared.js';
import type { PiiPattern } from './shared.js';

export const EU_ID_PATTERNS = {
  nhs: { name: 'uk_nhs', regex: /(?<![\w-])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\w]|-\d)/g },
  nino: {
    name: 'uk_nino',
    regex: /(?<![\w])[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![\w])/gi,
  },
  nif: { name: 'es_nif', regex: /(?<![\w-])\d{8}[ -]?[A-Z](?![\w])/gi },
  nie: { name: 'es_nie', regex: /(?<![\w-])[XYZ][ -]?\d{7}[ -]?[A-Z](?![\w])/gi },
  itFiscal: {
    name: 'it_fiscal_code',
    regex:
      /(?<![\w])[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z](?![\w])/gi,
  },
  fiPic: { name: 'fi_pic', regex: /(?<![\w-])\d{6}[-+A-FU-Y]\d{3}[0-9A-Y](?![\w])/g },
  pesel: { name: 'pl_pesel', regex: /(?<![\w-])\d{11}(?![\w]|-\d)/g },
} as const satisfies Record<string, PiiPattern>;

function isAsciiLetter(c: number): boolean {
  const l = c | 32;
  return l >= 97 && l <= 122;
}

/**
 * Speed only (the gate of a fiscal code written without digits): true when the text has 16 ASCII
 * letters in a row. Probes every 16th character and reads around letters only.
 */
export function hasLetterRun16(text: string): boolean {
  const n = text.length;
  let i = 15;
  while (i < n) {
    if (!isAsciiLetter(text.charCodeAt(i))) {
      i += 16;
      continue;
    }
    let s = i;
    while (s > 0 && i - s < 15 && isAsciiLetter(text.charCodeAt(s - 1))) s--;
    let e = i + 1;
    while (e < n && e - s < 16 && isAsciiLetter(text.charCodeAt(e))) e++;
    if (e - s >= 16) return true;
    i = e + 16; // text[e] is not a letter: a run of 16 ends at e + 16 or later
  }
  return false;
}

export function isValidNhs(raw: string): boolean {
  const d = digitsOf(raw);
  if (d.length !== 10) return false;
  const check = 11 - (weightedSum(d, [10, 9, 8, 7, 6, 5, 4, 3, 2]) % 11);
  const expected = check === 11 ? 0 : check;
  return expected !== 10 && expected === Number(d[9]);
}

const NINO_BAD_PREFIX = new Set(['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ']);

export function isValidNino(raw: string): boolean {
  const s = alnumUpper(raw);
  return s.length === 9 && !NINO_BAD_PREFIX.has(s.slice(0, 2));
}

const NIF_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

export function isValidNif(raw: string): boolean {
  const s = alnumUpper(raw);
  const prefix = { X: '0', Y: '1', Z: '2' }[s[0] ?? ''] ?? s[0] ?? '';
  const number = Number(prefix + s.slice(1, -1));
  return NIF_LETTERS[number % 23] === s[s.length - 1];
}

const ODD: Readonly<Record<string, number>> = Object.fromEntries(
  [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23].map(
    (v, i) => [String.fromCharCode(65 + i), v],
  ),
);
const ODD_DIGITS = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21];

export function isValidItFiscalCode(raw: string): boolean {
  const s = raw.toUpperCase();
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const ch = s[i] ?? '';
    const isDigit = ch >= '0' && ch <= '9';
    if (i % 2 === 0) sum += isDigit ? (ODD_DIGITS[Number(ch)] ?? 0) : (ODD[ch] ?? 0);
    else sum += isDigit ? Number(ch) : ch.charCodeAt(0) - 65;
  }
  return String.fromCharCode(65 + (sum % 26)) === s[15];
}

function dateOk(day: number, month: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

const FI_CHECK = '0123456789ABCDEFHJKLMNPRSTUVWXY';

export function isValidFiPic(raw: string): boolean {
  if (!dateOk(Number(raw.slice(0, 2)), Number(raw.slice(2, 4)))) return false;
  const n = Number(raw.slice(0, 6) + raw.slice(7, 10));
  return FI_CHECK[n % 31] === raw[10];
}

export function isValidPesel(raw: string): boolean {
  const month = Number(raw.slice(2, 4)) % 20;
  if (!dateOk(Number(raw.slice(4, 6)), month)) return false;
  const check = (10 - (weightedSum(raw, [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]) % 10)) % 10;
  return check === Number(raw[10]);
}

export function createEuIdRecognizers(): Recognizer[] {
  const p = EU_ID_PATTERNS;
  return [
    checkedRecognizer({
      name: 'uk_nhs',
      type: 'UK_NHS',
      pattern: p.nhs,
      gate: (p) => p.maxChain >= 10,
      validate: isValidNhs,
      score: 0.5,
      context: words('nhs', 'health', 'patient', 'national', 'service'),
    }),
    checkedRecognizer({
      name: 'uk_nino',
      type: 'UK_NINO',
      pattern: p.nino,
      gate: (p) => p.maxChain >= 6,
      validate: isValidNino,
      score: 0.6,
      context: words('nino', 'insurance', 'ni', 'national'),
    }),
    checkedRecognizer({
      name: 'es_nif',
      type: 'ES_NIF',
      pattern: p.nif,
      gate: (p) => p.maxDigitRun >= 8,
      validate: isValidNif,
      score: 0.6,
      context: words('nif', 'dni', 'documento', 'identidad', 'fiscal'),
    }),
    checkedRecognizer({
      name: 'es_nie',
      type: 'ES_NIE',
      pattern: p.nie,
      gate: (p) => p.maxDigitRun >= 7,
      validate: isValidNif,
      score: 0.6,
      context: words('nie', 'extranjero', 'identidad'),
    }),
    checkedRecognizer({
      name: 'it_fiscal_code',
      type: 'IT_FISCAL_CODE',
      pattern: p.itFiscal,
      // 16 characters; with no digit (every digit position a letter) 16 letters
      gate: (p, text) => (p.digitWordLengths & (1 << 16)) !== 0 || hasLetterRun16(text),
      validate: isValidItFiscalCode,
      score: 0.7,
      context: words('codice', 'fiscale', 'cf', 'fiscal'),
    }),
    checkedRecognizer({
      name: 'fi_personal_identity_code',
      type: 'FI_PERSONAL_IDENTITY_CODE',
      pattern: p.fiPic,
      gate: (p) => p.maxDigitRun >= 6,
      validate: isValidFiPic,
      score: 0.7,
      context: words('hetu', 'henkilötunnus', 'identity', 'personal'),
    }),
    checkedRecognizer({
      name: 'pl_pesel',
      type: 'PL_PESEL',
      pattern: p.pesel,
      gate: (p) => p.maxDigitRun >= 11,
      validate: isValidPesel,
      score: 0.5,
      context: words('pesel'),
    }),
  ];
}
