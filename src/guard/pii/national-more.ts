/**
 * More national identifiers with a checksum: US_NPI, TR_NATIONAL_ID, CA_SIN, SE_PERSONNUMMER,
 * TH_TNIN, KR_RRN / KR_FRN, ZA_ID_NUMBER and IN_AADHAAR (Verhoeff).
 */
import type { Recognizer } from '../types.js';
import { checkedRecognizer, weightedSum } from './checked.js';
import { isValidCard } from './credit-card.js';
import { digitsOf, luhnValid, words } from './shared.js';
import type { PiiPattern } from './shared.js';
import type { TextProfile } from './profile.js';

export const MORE_ID_PATTERNS = {
  npi: { name: 'us_npi', regex: /(?<![\w-])[12]\d{3} ?\d{3} ?\d{3}(?![\w]|-\d)/g },
  tr: { name: 'tr_national_id', regex: /(?<![\w-])[1-9]\d{10}(?![\w]|-\d)/g },
  sin: { name: 'ca_sin', regex: /(?<![\w-])\d{3}([ -]?)\d{3}\1\d{3}(?![\w]|-\d)/g },
  se: { name: 'se_personnummer', regex: /(?<![\w-])(?:\d{2})?\d{6}[-+]?\d{4}(?![\w]|-\d)/g },
  th: { name: 'th_tnin', regex: /(?<![\w-])[1-8]\d{12}(?![\w]|-\d)/g },
  kr: { name: 'kr_rrn', regex: /(?<![\w-])\d{6}-?\d{7}(?![\w]|-\d)/g },
  za: { name: 'za_id', regex: /(?<![\w-])\d{13}(?![\w]|-\d)/g },
  aadhaar: { name: 'in_aadhaar', regex: /(?<![\w-])[2-9]\d{3}([ -]?)\d{4}\1\d{4}(?![\w]|-\d)/g },
} as const satisfies Record<string, PiiPattern>;

function dateOk(yy: string, mm: string, dd: string): boolean {
  const m = Number(mm);
  const d = Number(dd);
  return yy.length > 0 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

export function isValidNpi(raw: string): boolean {
  const d = digitsOf(raw);
  return d.length === 10 && !repetitive(d) && luhnValid('80840' + d);
}

export function isValidTrId(raw: string): boolean {
  const n = [...raw].map(Number);
  const odd = (n[0] ?? 0) + (n[2] ?? 0) + (n[4] ?? 0) + (n[6] ?? 0) + (n[8] ?? 0);
  const even = (n[1] ?? 0) + (n[3] ?? 0) + (n[5] ?? 0) + (n[7] ?? 0);
  const d10 = (((odd * 7 - even) % 10) + 10) % 10;
  const d11 = n.slice(0, 10).reduce((a, b) => a + b, 0) % 10;
  return d10 === n[9] && d11 === n[10];
}

export function isValidSin(raw: string): boolean {
  const d = digitsOf(raw);
  return d.length === 9 && d[0] !== '0' && d[0] !== '8' && luhnValid(d);
}

export function isValidPersonnummer(raw: string): boolean {
  const d = digitsOf(raw);
  const ten = d.length === 12 ? d.slice(2) : d;
  if (ten.length !== 10) return false;
  const day = String(Number(ten.slice(4, 6)) % 60).padStart(2, '0'); // +60: coordination number
  return dateOk(ten.slice(0, 2), ten.slice(2, 4), day) && luhnValid(ten);
}

export function isValidTnin(raw: string): boolean {
  if (isValidCard(raw)) return false; // 13-digit Visa numbers pass this check one time in 11
  const sum = weightedSum(raw, [13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2]);
  return (11 - (sum % 11)) % 10 === Number(raw[12]);
}

/** Residents: (11 − sum mod 11) mod 10; foreigners: (13 − sum mod 11) mod 10. */
function rrnChecksumOk(d: string, foreigner: boolean): boolean {
  const sum = weightedSum(d, [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]);
  return ((foreigner ? 13 : 11) - (sum % 11)) % 10 === Number(d[12]);
}

/** Eight or more copies of one digit: test data, not an identifier. */
function repetitive(d: string): boolean {
  const counts = new Map<string, number>();
  for (const ch of d) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  return Math.max(...counts.values()) >= 8;
}

/** KR resident (gender digit 1–4, 9, 0) or foreigner (5–8) registration number. */
function krValid(raw: string, foreigner: boolean): boolean {
  const d = digitsOf(raw);
  if (d.length !== 13 || !dateOk(d.slice(0, 2), d.slice(2, 4), d.slice(4, 6))) return false;
  const g = Number(d[6]);
  const isForeigner = g >= 5 && g <= 8;
  return isForeigner === foreigner && rrnChecksumOk(d, foreigner);
}

export function isValidZaId(raw: string): boolean {
  return (
    dateOk(raw.slice(0, 2), raw.slice(2, 4), raw.slice(4, 6)) &&
    '012'.includes(raw[10] ?? 'x') &&
    luhnValid(raw)
  );
}

const VERHOEFF_D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
  [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
  [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
  [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
  [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
  [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
  [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
  [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

export function isValidAadhaar(raw: string): boolean {
  const d = digitsOf(raw);
  if (d.length !== 12 || d === [...d].reverse().join('')) return false;
  let c = 0;
  [...d].reverse().forEach((ch, i) => {
    c = VERHOEFF_D[c]?.[VERHOEFF_P[i % 8]?.[Number(ch)] ?? 0] ?? 0;
  });
  return c === 0;
}

/** Speed only: what each pattern needs of the text's profile (see profile.ts). */
const GATES: Readonly<Record<string, (p: TextProfile) => boolean>> = {
  us_npi: (p) => p.maxChain >= 10,
  tr_national_id: (p) => p.maxDigitRun >= 11,
  ca_sin: (p) => p.maxChain >= 9,
  se_personnummer: (p) => p.maxDigitRun >= 6,
  th_tnin: (p) => p.maxDigitRun >= 13,
  kr_rrn: (p) => p.maxDigitRun >= 7,
  kr_frn: (p) => p.maxDigitRun >= 7,
  za_id_number: (p) => p.maxDigitRun >= 13,
  in_aadhaar: (p) => p.maxChain >= 12,
};

export function createMoreIdRecognizers(): Recognizer[] {
  const p = MORE_ID_PATTERNS;
  const spec = (
    name: string,
    type: string,
    pattern: PiiPattern,
    validate: (raw: string) => boolean,
    score: number,
    ...context: string[]
  ): Recognizer =>
    checkedRecognizer({
      name,
      type,
      pattern,
      validate,
      score,
      context: words(...context),
      gate: GATES[name],
    });
  return [
    spec('us_npi', 'US_NPI', p.npi, isValidNpi, 0.4, 'npi', 'provider', 'national'),
    spec('tr_national_id', 'TR_NATIONAL_ID', p.tr, isValidTrId, 0.5, 'tc', 'kimlik', 'kişi', 'vatandaşlık'),
    spec('ca_sin', 'CA_SIN', p.sin, isValidSin, 0.4, 'sin', 'social', 'insurance', 'nas'),
    spec(
      'se_personnummer',
      'SE_PERSONNUMMER',
      p.se,
      isValidPersonnummer,
      0.5,
      'personnummer',
      'identity',
      'personal',
    ),
    spec('th_tnin', 'TH_TNIN', p.th, isValidTnin, 0.5, 'tnin', 'thai', 'id', 'เลขบัตรประชาชน'),
    spec('kr_rrn', 'KR_RRN', p.kr, (r) => krValid(r, false), 0.5, 'rrn', 'resident', 'registration'),
    spec('kr_frn', 'KR_FRN', p.kr, (r) => krValid(r, true), 0.5, 'frn', 'foreigner', 'registration'),
    spec('za_id_number', 'ZA_ID_NUMBER', p.za, isValidZaId, 0.5, 'id', 'identity', 'rsa', 'african'),
    spec('in_aadhaar', 'IN_AADHAAR', p.aadhaar, isValidAadhaar, 0.5, 'aadhaar', 'uid', 'uidai'),
  ];
}
