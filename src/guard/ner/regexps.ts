/**
 * Every regular expression the recognizer uses, in one place so a test can prove each is free
 * of catastrophic backtracking (recheck). Keep them anchored and alternation-only.
 */

/** A letter or combining mark outside ASCII, tested one character at a time. */
export const NON_ASCII_LETTER = /[\p{L}\p{M}]/u;

/** Endings of ordinary words (adjectives, verbs, abstract nouns) that names rarely have. */
export const WORDY =
  /(?:ing|ed|ly|tion|sion|ment|ness|ity|ive|ous|able|ible|ful|less|ship|ism|ence|ance|ical|ise|ize|ology)$/;

export const NER_REGEXPS: readonly RegExp[] = [NON_ASCII_LETTER, WORDY];
