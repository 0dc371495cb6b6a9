/** CREDIT_CARD: 12–19 digits, optional space/dash groups, a known IIN range and the Luhn check. */
import type { Detection, Recognizer } from '../types.js';
import { contextScore, detection, digitsOf, forEachMatch, luhnValid, words } from './shared.js';
import type { PiiPattern } from './shared.js';
import { profileOf } from './profile.js';

export const CREDIT_CARD_PATTERNS: readonly PiiPattern[] = [
  { name: 'credit_card', regex: /(?<![\w-])\d(?:[ -]?\d){11,18}(?![\w]|-\d)/g },
];

const CONTEXT = words(
  'card',
  'credit',
  'debit',
  'visa',
  'mastercard',
  'amex',
  'cc',
  'pan',
  'payment',
  'diners',
  'discover',
  'jcb',
  'maestro',
  'carte',
  'tarjeta',
  'karte',
);

/** Issuer ranges by prefix, with their allowed lengths. */
function issuerOk(d: string): boolean {
  const n = d.length;
  const p2 = Number(d.slice(0, 2));
  const p4 = Number(d.slice(0, 4));
  const p6 = Number(d.slice(0, 6));
  if (d[0] === '4') return n === 13 || n === 16 || n === 19; // Visa
  if (p2 === 34 || p2 === 37) return n === 15; // Amex
  if (p2 >= 51 && p2 <= 55) return n === 16; // Mastercard
  if (p4 >= 2221 && p4 <= 2720) return n === 16; // Mastercard 2-series
  if (p2 === 36 || p2 === 38 || p2 === 39 || (p4 >= 3000 && p4 <= 3059)) return n >= 14 && n <= 19; // Diners
  if (p2 === 35) return n >= 16 && n <= 19; // JCB
  if (p4 === 1800 || p4 === 2131) return n === 15; // JCB (old)
  if (d[0] === '1') return n === 15; // UATP
  if (p4 === 6011 || (p6 >= 622126 && p6 <= 622925) || (p2 === 64 && p4 >= 6440) || p2 === 65) {
    return n >= 16 && n <= 19; // Discover
  }
  if (p2 === 62 || p2 === 81) return n >= 16 && n <= 19; // UnionPay
  if (p2 === 50 || (p2 >= 56 && p2 <= 58) || p2 === 63 || p2 === 67 || p2 === 60) {
    return n >= 12 && n <= 19; // Maestro
  }
  if (p4 >= 2200 && p4 <= 2204) return n === 16; // Mir
  return false;
}

/** Groups must look like a card's print layout: first 4, middle 4–6, last 2–6 digits. */
function groupsOk(raw: string): boolean {
  const hasSpace = raw.includes(' ');
  const hasDash = raw.includes('-');
  if (!hasSpace && !hasDash) return true;
  if (hasSpace && hasDash) return false;
  const groups = raw.split(hasSpace ? ' ' : '-');
  if (groups.length < 3 || groups[0]?.length !== 4) return false;
  for (let i = 1; i < groups.length; i++) {
    const len = groups[i]?.length ?? 0;
    if (i < groups.length - 1 ? len < 4 || len > 6 : len < 2 || len > 6) return false;
  }
  return true;
}

export function isValidCard(raw: string): boolean {
  const d = digitsOf(raw);
  if (d.length < 12 || d.length > 19) return false;
  if (new Set(d).size === 1) return false;
  return groupsOk(raw) && issuerOk(d) && luhnValid(d);
}

export function createCreditCardRecognizer(): Recognizer {
  return {
    name: 'credit_card',
    types: ['CREDIT_CARD'],
    detect(text: string): Detection[] {
      const out: Detection[] = [];
      if (profileOf(text).maxChain < 12) return out; // no run of 12 digits, even with separators
      for (const { regex } of CREDIT_CARD_PATTERNS) {
        forEachMatch(regex, text, (m) => {
          if (!isValidCard(m[0])) return;
          const s = m.index;
          const e = s + m[0].length;
          out.push(detection('CREDIT_CARD', s, e, contextScore(text, s, e, 0.65, CONTEXT), 'credit_card'));
        });
      }
      return out;
    },
  };
}
