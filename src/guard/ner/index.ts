import type { Detection, Recognizer } from '../types.js';
import { addressParts, findAddresses } from './address.js';
import { CHUNK, chunks } from './chunks.js';
import { type Lexicon, lexicon } from './lexicon.js';
import { findNames } from './names.js';
import { tokenize } from './tokenize.js';

/** Street addresses are found by layout (number, street word, unit, postcode), not by a list. */
const ADDRESS_SCORE = 0.7;

function byStart(x: Detection, y: Detection): number {
  return x.start - y.start;
}

/** Detections in `text`, with offsets moved by `base`. */
function scan(
  text: string,
  base: number,
  wanted: ReadonlySet<string>,
  minScore: number,
  lex: Lexicon,
): Detection[] {
  const tokens = tokenize(text);
  const out: Detection[] = [];
  const addresses = wanted.has('LOCATION') ? findAddresses(tokens) : [];
  const emitAddresses = ADDRESS_SCORE >= minScore;
  for (const a of emitAddresses ? addresses : []) {
    for (const part of addressParts(tokens, a)) {
      const s = tokens[part.first];
      const e = tokens[part.last];
      if (s && e)
        out.push({
          type: 'LOCATION',
          start: base + s.start,
          end: base + e.end,
          score: ADDRESS_SCORE,
          recognizer: 'ner',
        });
    }
  }
  let k = 0;
  for (const n of findNames(text, tokens, lex)) {
    while (k < addresses.length && (addresses[k]?.last ?? 0) < n.first) k++;
    const a = addresses[k];
    if (a !== undefined && a.first <= n.last) continue; // inside an address
    if (!wanted.has(n.type) || n.score < minScore) continue;
    const s = tokens[n.first];
    const e = tokens[n.last];
    if (s && e)
      out.push({ type: n.type, start: base + s.start, end: base + e.end, score: n.score, recognizer: 'ner' });
  }
  out.sort(byStart);
  return out;
}

/** The entity types the name recognizer can emit. */
export const NER_TYPES = ['PERSON', 'LOCATION', 'ORGANIZATION', 'NRP'] as const;
export type NerType = (typeof NER_TYPES)[number];

export interface NameRecognizerOptions {
  /** Entity types to emit. Default: all of NER_TYPES. Unknown types throw at build time. */
  readonly types?: readonly NerType[];
  /** Drop detections scoring below this (0..1). Default 0. */
  readonly minScore?: number;
}

/**
 * Names, places, organisations and nationalities by gazetteers, letter case and context words in
 * one linear pass (no model). Street addresses are reported as LOCATION.
 */
export function createNameRecognizer(options: NameRecognizerOptions = {}): Recognizer {
  const types = options.types ?? NER_TYPES;
  for (const t of types) {
    if (!(NER_TYPES as readonly string[]).includes(t))
      throw new TypeError(`ner: unknown entity type ${String(t)}`);
  }
  const minScore = options.minScore ?? 0;
  if (!(minScore >= 0 && minScore <= 1)) throw new RangeError('ner: minScore must be within 0..1');
  const wanted = new Set<string>(types);
  const lex = lexicon();
  return {
    name: 'ner',
    types: [...types],
    detect(text: string): Detection[] {
      if (text.length <= CHUNK) return scan(text, 0, wanted, minScore, lex);
      const out: Detection[] = [];
      for (const [start, end] of chunks(text)) {
        for (const d of scan(text.slice(start, end), start, wanted, minScore, lex)) out.push(d);
      }
      return out;
    },
  };
}
