/** IBAN_CODE: country code, check digits, per-country length and the ISO 7064 mod-97 check. */
import type { Detection, Recognizer } from '../types.js';
import { contextScore, detection, forEachMatch, words } from './shared.js';
import type { PiiPattern } from './shared.js';

export const IBAN_PATTERNS: readonly PiiPattern[] = [
  // INVARIANT: groups are separated by at most one space; a match ends on an alphanumeric.
  { name: 'iban', regex: /(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])/g },
];

const CONTEXT = words('iban', 'bank', 'account', 'transfer', 'konto', 'compte', 'cuenta', 'sepa');

/** IBAN lengths by country (SWIFT IBAN registry, plus the partner countries in use). */
const LENGTHS: Readonly<Record<string, number>> = Object.fromEntries(
  (
    'AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 ' +
    'DK18 DO28 EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 ' +
    'IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 ' +
    'MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 SC31 ' +
    'SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30 ' +
    'DZ26 AO25 BJ28 BF28 CM27 CV25 CF27 TD27 KM27 CG27 CI28 GA27 GQ27 GW25 HN28 IR26 MG27 ' +
    'ML28 MA28 MZ25 NE28 SN28 TG28'
  )
    .split(' ')
    .map((e) => [e.slice(0, 2), Number(e.slice(2))]),
);

export function mod97(iban: string): number {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let rem = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    const value = code >= 65 ? code - 55 : code - 48;
    rem = value >= 10 ? (rem * 100 + value) % 97 : (rem * 10 + value) % 97;
  }
  return rem;
}

/** Validates a compact (no spaces) IBAN. */
export function isValidIban(compact: string): boolean {
  const length = LENGTHS[compact.slice(0, 2)];
  return length !== undefined && compact.length === length && mod97(compact) === 1;
}

export function createIbanRecognizer(): Recognizer {
  return {
    name: 'iban',
    types: ['IBAN_CODE'],
    detect(text: string): Detection[] {
      const out: Detection[] = [];
      for (const { regex } of IBAN_PATTERNS) {
        forEachMatch(regex, text, (m) => {
          const raw = m[0];
          const length = LENGTHS[raw.slice(0, 2)];
          if (length === undefined) return;
          // Take exactly the country's length; a longer match may run into the next word.
          let taken = 0;
          let cut = 0;
          while (cut < raw.length && taken < length) {
            if (raw[cut] !== ' ') taken++;
            cut++;
          }
          if (taken !== length || (cut < raw.length && raw[cut] !== ' ')) return;
          const compact = raw.slice(0, cut).replaceAll(' ', '');
          if (!isValidIban(compact)) return;
          const s = m.index;
          const e = s + cut;
          out.push(detection('IBAN_CODE', s, e, contextScore(text, s, e, 0.8, CONTEXT), 'iban'));
        });
      }
      return out;
    },
  };
}
