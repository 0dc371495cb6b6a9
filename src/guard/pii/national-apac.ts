/** Asia-Pacific identifiers with a real check: IN_PAN (structure), AU_TFN, AU_ABN, SG_NRIC_FIN. */
import type { Recognizer } from '../types.js';
import { checkedRecognizer, weightedSum } from './checked.js';
import { digitsOf, words } from './shared.js';
import type { PiiPattern } from './shared.js';

export const APAC_ID_PATTERNS = {
  // 4th letter: holder type (P person, C company, H HUF, F firm, A AOP, T trust, B BOI, L, J, G)
  pan: { name: 'in_pan', regex: /(?<![\w])[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z](?![\w])/g },
  tfn: { name: 'au_tfn', regex: /(?<![\w-])\d{3} ?\d{3} ?\d{3}(?![\w]|-\d)/g },
  abn: { name: 'au_abn', regex: /(?<![\w-])\d{2} ?\d{3} ?\d{3} ?\d{3}(?![\w]|-\d)/g },
  nric: { name: 'sg_nric_fin', regex: /(?<![\w])[STFGM]\d{7}[A-Z](?![\w])/gi },
} as const satisfies Record<string, PiiPattern>;

export function isValidTfn(raw: string): boolean {
  const d = digitsOf(raw);
  return d.length === 9 && weightedSum(d, [1, 4, 3, 7, 5, 8, 6, 9, 10]) % 11 === 0;
}

export function isValidAbn(raw: string): boolean {
  const d = digitsOf(raw);
  if (d.length !== 11 || d[0] === '0') return false;
  const adjusted = String(Number(d[0]) - 1) + d.slice(1);
  return weightedSum(adjusted, [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19]) % 89 === 0;
}

const NRIC_TABLES: Readonly<Record<string, [number, string]>> = {
  S: [0, 'JZIHGFEDCBA'],
  T: [4, 'JZIHGFEDCBA'],
  F: [0, 'XWUTRQPNMLK'],
  G: [4, 'XWUTRQPNMLK'],
  M: [3, 'XWUTRQPNJLK'],
};

export function isValidNric(raw: string): boolean {
  const s = raw.toUpperCase();
  const table = NRIC_TABLES[s[0] ?? ''];
  if (!table) return false;
  const sum = weightedSum(s.slice(1, 8), [2, 7, 6, 5, 4, 3, 2]) + table[0];
  return table[1][sum % 11] === s[8];
}

export function createApacIdRecognizers(): Recognizer[] {
  const p = APAC_ID_PATTERNS;
  return [
    checkedRecognizer({
      name: 'in_pan',
      type: 'IN_PAN',
      pattern: p.pan,
      gate: (p) => (p.digitWordLengths & (1 << 10)) !== 0,
      validate: () => true,
      score: 0.5,
      context: words('pan', 'permanent', 'account', 'income', 'tax'),
    }),
    checkedRecognizer({
      name: 'au_tfn',
      type: 'AU_TFN',
      pattern: p.tfn,
      gate: (p) => p.maxChain >= 9,
      validate: isValidTfn,
      score: 0.4,
      context: words('tfn', 'tax', 'file'),
    }),
    checkedRecognizer({
      name: 'au_abn',
      type: 'AU_ABN',
      pattern: p.abn,
      gate: (p) => p.maxChain >= 11,
      validate: isValidAbn,
      score: 0.4,
      context: words('abn', 'business', 'australian'),
    }),
    checkedRecognizer({
      name: 'sg_nric_fin',
      type: 'SG_NRIC_FIN',
      pattern: p.nric,
      gate: (p) => p.maxDigitRun >= 7,
      validate: isValidNric,
      score: 0.7,
      context: words('nric', 'fin', 'identity', 'ic'),
    }),
  ];
}
