/** Rule shapes for the secret recognizer. Rules are data; `engine.ts` is the only code that runs them. */

export const SECRET_FAMILIES = [
  'cloud',
  'vcs-ci',
  'chat',
  'payment',
  'ai',
  'saas',
  'keys',
  'jwt',
  'connection',
  'generic',
] as const;
export type SecretFamily = (typeof SECRET_FAMILIES)[number];

interface RuleBase {
  /** Our stable rule id (emitted as `Detection.rule`). */
  readonly id: string;
  readonly family: SecretFamily;
  readonly description: string;
  /**
   * Lower-case substrings for the cheap pre-filter: the rule runs only when one occurs in the
   * (ASCII-lower-cased) text. Context rules also use them as the anchor the value must follow.
   */
  readonly keywords: readonly string[];
  /** Confidence of a hit, 0..1. */
  readonly score?: number;
  /** Minimum Shannon entropy (bits per char) of the value. */
  readonly minEntropy?: number;
  /** Skip the placeholder filter (the format itself is the evidence, e.g. a fixed prefix + checksum). */
  readonly allowPlaceholder?: boolean;
  /** Extra check on the value (checksums, decoding, character mix); false drops the hit. */
  readonly validate?: (value: string) => boolean;
}

/**
 * A self-describing token: a fixed prefix or structure found anywhere in the text.
 * INVARIANT: `pattern` is global, has only bounded quantifiers and passes `recheck` as safe.
 */
export interface PatternRule extends RuleBase {
  readonly kind: 'pattern';
  readonly pattern: RegExp;
  /** Capture group that holds the secret value (default: the whole match). Patterns carry the `d` flag. */
  readonly group?: number;
  /** The value must sit between delimiters (quotes, spaces, `=`, `:` …), not inside a longer word. */
  readonly delimited?: boolean;
  /**
   * Speed only, for rules without keywords: a cheap, non-global test that every text the pattern
   * matches also passes; the pattern is skipped when it fails. Must pass `recheck` as well.
   */
  readonly gate?: RegExp;
}

/**
 * A token without a distinctive shape that counts only next to its service's name, e.g.
 * `ETSY_API_KEY=0gy3wgnaaas2mkl2xbt5pfvl`. The value is a maximal run of `charset` characters
 * starting within `window` characters after a keyword, delimited by quotes, spaces or operators.
 */
export interface ContextRule extends RuleBase {
  readonly kind: 'context';
  /** Body of a character class, e.g. `a-z0-9` (with `caseInsensitive`) or `A-Za-z0-9_-`. */
  readonly charset: string;
  readonly caseInsensitive?: boolean;
  readonly minLength: number;
  readonly maxLength: number;
  /** Optional exact shape of the value, anchored (`^…$`). */
  readonly shape?: RegExp;
  /** Characters after the keyword in which the value must start (default 60). */
  readonly window?: number;
}

/** A span found by a structural scanner (PEM blocks, Kubernetes manifests, assignments). */
export interface FoundSpan {
  readonly rule: string;
  readonly start: number;
  readonly end: number;
  readonly score: number;
}

/**
 * A rule implemented as a linear scanner rather than one pattern (PEM blocks, YAML manifests,
 * `key = value` assignments). Its `patterns` are listed so that the ReDoS test can check them.
 */
export interface ScannerRule extends RuleBase {
  readonly kind: 'scanner';
  readonly patterns: readonly RegExp[];
  find(text: string, lower: string): FoundSpan[];
}

export type SecretRule = PatternRule | ContextRule | ScannerRule;
