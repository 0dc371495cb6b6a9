/**
 * Structured PII recognizers for the data guard (Presidio entity names). Every recognizer is
 * pure, synchronous and linear in its input; each validates what it finds (checksums, ranges,
 * registries) so false positives stay low, and context words nearby raise the score.
 */
import type { CountryCode } from 'libphonenumber-js';
import type { Recognizer } from '../types.js';
import { CREDIT_CARD_PATTERNS, createCreditCardRecognizer } from './credit-card.js';
import { CRYPTO_PATTERNS, createCryptoRecognizer } from './crypto.js';
import { DATE_PATTERNS, MONTH_GATE, WEEKDAY_ANCHOR, createDateTimeRecognizer } from './date-time.js';
import { WORD_CHAR_PATTERN } from './custom.js';
import { createEmailRecognizer } from './email.js';
import { IBAN_PATTERNS, createIbanRecognizer } from './iban.js';
import { IP_PATTERNS, createIpRecognizer } from './ip.js';
import { APAC_ID_PATTERNS, createApacIdRecognizers } from './national-apac.js';
import { EU_ID_PATTERNS, createEuIdRecognizers } from './national-eu.js';
import { MAC_PATTERNS, createMacRecognizer } from './mac.js';
import { MORE_ID_PATTERNS, createMoreIdRecognizers } from './national-more.js';
import { createPhoneRecognizer } from './phone.js';
import { PHONE_SCAN_PATTERNS } from './phone-scan.js';
import { CONTEXT_WORD_PATTERN, type PiiPattern } from './shared.js';
import { URL_PATTERNS, createUrlRecognizer } from './url.js';
import { US_PATTERNS, createUsRecognizers } from './us.js';

export { createCustomRecognizers, CustomRecognizerError, CUSTOM_MAX_MATCH } from './custom.js';
export type { CustomDictionaryConfig, CustomPatternConfig, CustomRecognizerConfig } from './custom.js';
export { DEFAULT_PHONE_COUNTRIES } from './phone.js';
export type { PiiPattern } from './shared.js';

export interface PiiOptions {
  /** Entity types to recognise; default: all built-in types. Unknown names throw. */
  readonly types?: readonly string[];
  /** Countries whose national phone formats are accepted, in order; default DEFAULT_PHONE_COUNTRIES. */
  readonly phoneCountries?: readonly CountryCode[];
}

/** Every RegExp the built-in recognizers use (the ReDoS test proves each one safe). */
export const PII_PATTERNS: readonly PiiPattern[] = [
  ...CREDIT_CARD_PATTERNS,
  ...IBAN_PATTERNS,
  ...DATE_PATTERNS,
  MONTH_GATE,
  WEEKDAY_ANCHOR,
  ...IP_PATTERNS,
  ...URL_PATTERNS,
  ...PHONE_SCAN_PATTERNS,
  CONTEXT_WORD_PATTERN,
  ...Object.values(CRYPTO_PATTERNS),
  ...Object.values(US_PATTERNS),
  ...Object.values(EU_ID_PATTERNS),
  ...Object.values(APAC_ID_PATTERNS),
  ...Object.values(MORE_ID_PATTERNS),
  ...MAC_PATTERNS,
  WORD_CHAR_PATTERN,
];

function allRecognizers(options: PiiOptions): Recognizer[] {
  return [
    createEmailRecognizer(),
    createUrlRecognizer(),
    createIpRecognizer(),
    createMacRecognizer(),
    createPhoneRecognizer(options.phoneCountries ? { countries: options.phoneCountries } : {}),
    createCreditCardRecognizer(),
    createIbanRecognizer(),
    createCryptoRecognizer(),
    createDateTimeRecognizer(),
    ...createUsRecognizers(),
    ...createEuIdRecognizers(),
    ...createApacIdRecognizers(),
    ...createMoreIdRecognizers(),
  ];
}

/** The entity types the built-in recognizers can emit. */
export const PII_TYPES: readonly string[] = [...new Set(allRecognizers({}).flatMap((r) => r.types))].sort();

/** Builds the built-in structured PII recognizers; throws on an unknown type name. */
export function createPiiRecognizers(options: PiiOptions = {}): Recognizer[] {
  const all = allRecognizers(options);
  if (!options.types) return all;
  const wanted = new Set(options.types);
  for (const t of wanted) {
    if (!PII_TYPES.includes(t)) throw new Error(`unknown PII type '${t}'`);
  }
  return all.filter((r) => r.types.some((t) => wanted.has(t)));
}
