import { COMMON_WORDS } from './data/common.js';
import {
  COMMON_NOUNS,
  HONORIFICS,
  PLACE_PREFIXES,
  LOCATION_CUES,
  ORG_CUES,
  ORG_SUFFIXES,
  PERSON_CUES,
  STOP_WORDS,
  STREET_WORDS,
  UNIT_WORDS,
} from './data/cues.js';
import { CENSUS_NAMES, FIRST_NAMES, LAST_NAMES } from './data/names.js';
import { ORG_WORDS, ORGANIZATIONS } from './data/orgs.js';
import { CITIES, COUNTRIES, DEMONYMS, PLACE_WORDS, REGIONS } from './data/places.js';

/** Bit flags a lower-cased word can carry. One word may carry several. */
export const F = {
  FIRST: 1,
  LAST: 2,
  CENSUS: 4,
  COUNTRY: 8,
  CITY: 16,
  REGION: 32,
  DEMONYM: 64,
  ORG: 128,
  ORG_SUFFIX: 256,
  COMMON: 512,
  STREET: 1024,
  UNIT: 2048,
  HONORIFIC: 4096,
  STOP: 8192,
  PERSON_CUE: 16384,
  LOC_CUE: 32768,
  ORG_CUE: 65536,
  /** First word of a multi-word gazetteer entry (look further). */
  HEAD: 131072,
  PLACE_SUFFIX: 262144,
  PLACE_PREFIX: 524288,
} as const;

export const PLACE = F.COUNTRY | F.CITY | F.REGION;
export const NAME = F.FIRST | F.LAST | F.CENSUS;

export interface Lexicon {
  /** Flags of a single lower-cased word (0 when unknown). */
  word(lower: string): number;
  /** Flags of a multi-word entry, words joined by one space (0 when unknown). */
  phrase(lower: string): number;
  /** The longest multi-word entry length, in words. */
  readonly maxPhraseWords: number;
}

let cached: Lexicon | undefined;

/** The gazetteers, built once on first use (about 25k entries, a few MB). */
export function lexicon(): Lexicon {
  if (cached) return cached;
  const words = new Map<string, number>();
  const phrases = new Map<string, number>();
  let maxPhraseWords = 1;
  const add = (list: string, flag: number): void => {
    for (const entry of list.split('|')) {
      if (entry.length === 0) continue;
      if (entry.includes(' ')) {
        phrases.set(entry, (phrases.get(entry) ?? 0) | flag);
        const parts = entry.split(' ');
        maxPhraseWords = Math.max(maxPhraseWords, parts.length);
        const head = parts[0] ?? '';
        words.set(head, (words.get(head) ?? 0) | F.HEAD);
      } else {
        words.set(entry, (words.get(entry) ?? 0) | flag);
      }
    }
  };
  add(FIRST_NAMES, F.FIRST);
  add(LAST_NAMES, F.LAST);
  add(CENSUS_NAMES, F.CENSUS);
  add(COUNTRIES, F.COUNTRY);
  add(CITIES, F.CITY);
  add(REGIONS, F.REGION);
  add(DEMONYMS, F.DEMONYM);
  add(ORGANIZATIONS, F.ORG);
  add(ORG_WORDS, F.ORG_SUFFIX);
  add(ORG_SUFFIXES, F.ORG_SUFFIX);
  add(COMMON_WORDS, F.COMMON);
  add(COMMON_NOUNS, F.COMMON);
  add(STREET_WORDS, F.STREET);
  add(UNIT_WORDS, F.UNIT);
  add(HONORIFICS, F.HONORIFIC);
  add(STOP_WORDS, F.STOP);
  add(PERSON_CUES, F.PERSON_CUE);
  add(LOCATION_CUES, F.LOC_CUE);
  add(ORG_CUES, F.ORG_CUE);
  add(PLACE_WORDS, F.PLACE_SUFFIX);
  add(PLACE_PREFIXES, F.PLACE_PREFIX);
  cached = {
    word: (lower) => words.get(lower) ?? 0,
    phrase: (lower) => phrases.get(lower) ?? 0,
    maxPhraseWords,
  };
  return cached;
}
