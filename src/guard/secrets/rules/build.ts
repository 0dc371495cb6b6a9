/** Terse constructors for the rule tables. */
import type { ContextRule, PatternRule, SecretFamily } from '../types.js';

type PatternOpts = Partial<
  Pick<PatternRule, 'group' | 'delimited' | 'gate' | 'minEntropy' | 'allowPlaceholder' | 'validate' | 'score'>
>;
type ContextOpts = Partial<
  Pick<
    ContextRule,
    'caseInsensitive' | 'shape' | 'window' | 'minEntropy' | 'allowPlaceholder' | 'validate' | 'score'
  >
>;

/** A pattern rule; `pattern` gets the `g` and `d` flags added. */
export function pattern(
  id: string,
  family: SecretFamily,
  description: string,
  keywords: readonly string[],
  re: RegExp,
  opts: PatternOpts = {},
): PatternRule {
  const flags = [...new Set([...re.flags, 'g', 'd'])].join('');
  return {
    kind: 'pattern',
    id,
    family,
    description,
    keywords,
    pattern: new RegExp(re.source, flags),
    ...opts,
  };
}

/** A context rule: a `charset` run of `min..max` characters shortly after a service keyword. */
export function context(
  id: string,
  family: SecretFamily,
  description: string,
  keywords: readonly string[],
  charset: string,
  min: number,
  max: number,
  opts: ContextOpts = {},
): ContextRule {
  return {
    kind: 'context',
    id,
    family,
    description,
    keywords,
    charset,
    minLength: min,
    maxLength: max,
    ...opts,
  };
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const HEX = '0-9a-f';
export const ALNUM = 'a-z0-9';
/** Letters, digits and the URL-safe base64 / token punctuation. */
export const TOKEN = 'a-z0-9_=-';

/** At least one digit and one letter (random tokens nearly always have both). */
export function hasDigitAndLetter(value: string): boolean {
  return /[0-9]/.test(value) && /[a-z]/i.test(value);
}

/** Upper case, lower case and a digit. */
export function mixedCase(value: string): boolean {
  return /[0-9]/.test(value) && /[a-z]/.test(value) && /[A-Z]/.test(value);
}
