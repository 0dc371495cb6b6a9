/**
 * The per-leaf checks of ledger verification (verify-log.ts), written to run a million times in a
 * few seconds: one pass over the leaf text decides whether it is RFC 8785 canonical JSON of
 * `{"entry":{…},"index":n,"storedAt":"…"}` without parsing it into objects.
 *
 * INVARIANT: leafTextIndex(text) >= 0 exactly when canonicalJson(JSON.parse(text)) === text and the
 * value has that shape (test/unit/ledger/verify-leaf.test.ts compares the two on many texts).
 */
import { createHash } from 'node:crypto';
import type { LedgerLeaf } from '../store/index.js';
import { MAX_DEPTH } from './canonical-json.js';

/** A problem with one leaf, as verify-log.ts reports it. */
export interface LeafProblem {
  readonly code: 'leaf_missing' | 'leaf_inserted' | 'leaf_out_of_order' | 'leaf_malformed' | 'leaf_modified';
  readonly index: number;
  readonly message: string;
}

const LEAF_PREFIX = Buffer.from([0x00]);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const ENTRY_OPEN = '{"entry":';
const INDEX_KEY = ',"index":';
const STORED_AT_KEY = ',"storedAt":';

/**
 * Checks one stored leaf expected at index k: present, not duplicated, canonical, naming index k,
 * and hashing to its stored leaf hash. Returns the recomputed SHA-256(0x00 ‖ text), or the problem.
 */
export function checkLeaf(leaf: LedgerLeaf, k: number): Buffer | LeafProblem {
  if (leaf.index > k) return { code: 'leaf_missing', index: k, message: `leaf ${k} is missing` };
  if (leaf.index < k) {
    return { code: 'leaf_inserted', index: leaf.index, message: `leaf ${leaf.index} is stored twice` };
  }
  const named = leafTextIndex(leaf.text);
  if (named < 0) {
    return {
      code: 'leaf_malformed',
      index: k,
      message: `leaf ${k} is not canonical JSON of {entry, index, storedAt}`,
    };
  }
  if (named < k) {
    return {
      code: 'leaf_inserted',
      index: k,
      message: `leaf ${k} holds the entry of leaf ${named}: a row was copied or inserted`,
    };
  }
  if (named > k) {
    return {
      code: 'leaf_out_of_order',
      index: k,
      message: `leaf ${k} holds the entry of leaf ${named}: rows were reordered or renumbered`,
    };
  }
  const hash = createHash('sha256').update(LEAF_PREFIX).update(leaf.text, 'utf8').digest();
  if (!hash.equals(leaf.leafHash)) {
    return { code: 'leaf_modified', index: k, message: `leaf ${k} was modified: its hash does not match` };
  }
  return hash;
}

/** The index a canonical leaf text names, or -1 when the text is not a canonical leaf. */
export function leafTextIndex(text: string): number {
  if (!text.startsWith(ENTRY_OPEN) || text.charCodeAt(ENTRY_OPEN.length) !== OPEN_OBJECT) return -1;
  const entryEnd = scanObject(text, ENTRY_OPEN.length, 1);
  if (entryEnd < 0 || !text.startsWith(INDEX_KEY, entryEnd)) return -1;
  const indexStart = entryEnd + INDEX_KEY.length;
  const indexEnd = scanNumber(text, indexStart);
  if (indexEnd < 0 || !text.startsWith(STORED_AT_KEY, indexEnd)) return -1;
  const index = Number(text.slice(indexStart, indexEnd));
  if (!Number.isSafeInteger(index) || index < 0) return -1;
  const storedAt = indexEnd + STORED_AT_KEY.length;
  if (text.charCodeAt(storedAt) !== QUOTE) return -1;
  const end = scanString(text, storedAt);
  return end === text.length - 1 && text.charCodeAt(end) === CLOSE_OBJECT ? index : -1;
}

// Each scanner takes the position where a value starts and returns where it ends, or -1 when the
// text there is not that value in canonical form. `depth` counts enclosing containers, as
// canonicalJson does (a container at depth MAX_DEPTH is refused).

function scanValue(s: string, i: number, depth: number): number {
  switch (s.charCodeAt(i)) {
    case OPEN_OBJECT:
      return scanObject(s, i, depth);
    case OPEN_ARRAY:
      return scanArray(s, i, depth);
    case QUOTE:
      return scanString(s, i);
    case 0x74:
      return s.startsWith('true', i) ? i + 4 : -1;
    case 0x66:
      return s.startsWith('false', i) ? i + 5 : -1;
    case 0x6e:
      return s.startsWith('null', i) ? i + 4 : -1;
    default:
      return scanNumber(s, i);
  }
}

function scanObject(s: string, i: number, depth: number): number {
  if (depth >= MAX_DEPTH) return -1;
  let j = i + 1;
  if (s.charCodeAt(j) === CLOSE_OBJECT) return j + 1;
  let previous: string | undefined;
  for (;;) {
    if (s.charCodeAt(j) !== QUOTE) return -1;
    const keyEnd = scanString(s, j);
    if (keyEnd < 0) return -1;
    const key = keyOf(s, j, keyEnd);
    // RFC 8785 orders members by the UTF-16 code units of their names, as `<` compares strings.
    if (previous !== undefined && !(previous < key)) return -1;
    previous = key;
    if (s.charCodeAt(keyEnd) !== COLON) return -1;
    j = scanValue(s, keyEnd + 1, depth + 1);
    if (j < 0) return -1;
    const next = s.charCodeAt(j);
    if (next === CLOSE_OBJECT) return j + 1;
    if (next !== COMMA) return -1;
    j += 1;
  }
}

function scanArray(s: string, i: number, depth: number): number {
  if (depth >= MAX_DEPTH) return -1;
  let j = i + 1;
  if (s.charCodeAt(j) === CLOSE_ARRAY) return j + 1;
  for (;;) {
    j = scanValue(s, j, depth + 1);
    if (j < 0) return -1;
    const next = s.charCodeAt(j);
    if (next === CLOSE_ARRAY) return j + 1;
    if (next !== COMMA) return -1;
    j += 1;
  }
}

/** A member name's value: the text between the quotes unless it holds an escape. */
function keyOf(s: string, start: number, end: number): string {
  const raw = s.slice(start + 1, end - 1);
  return raw.includes('\\') ? (JSON.parse(s.slice(start, end)) as string) : raw;
}

function isNumberChar(c: number): boolean {
  // 0-9 . + - e E
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2b || c === 0x2d || c === 0x65 || c === 0x45;
}

/** RFC 8785 numbers are ECMAScript Number::toString of a finite value, which String() gives. */
function scanNumber(s: string, i: number): number {
  let j = i;
  while (j < s.length && isNumberChar(s.charCodeAt(j))) j += 1;
  if (j === i) return -1;
  const token = s.slice(i, j);
  const value = Number(token);
  return Number.isFinite(value) && String(value) === token ? j : -1;
}

function isLowerHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);
}

/**
 * A string as JSON.stringify writes it (RFC 8785 §3.2.2.2): `"` and `\` escaped, \b \t \n \f \r in
 * short form, other control characters as lowercase \u00xx, everything else raw; no lone surrogate.
 */
function scanString(s: string, i: number): number {
  for (let j = i + 1; j < s.length;) {
    const c = s.charCodeAt(j);
    if (c === QUOTE) return j + 1;
    if (c < 0x20) return -1;
    if (c === BACKSLASH) {
      const step = escapeLength(s, j + 1);
      if (step < 0) return -1;
      j += 1 + step;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const low = s.charCodeAt(j + 1);
      if (!(low >= 0xdc00 && low <= 0xdfff)) return -1;
      j += 2;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return -1;
    } else {
      j += 1;
    }
  }
  return -1;
}

/** Length of the canonical escape after a backslash at i - 1, or -1. */
function escapeLength(s: string, i: number): number {
  switch (s.charCodeAt(i)) {
    case QUOTE:
    case BACKSLASH:
    case 0x62: // b
    case 0x66: // f
    case 0x6e: // n
    case 0x72: // r
    case 0x74: // t
      return 1;
    case 0x75: {
      // u00xx, only for control characters without a short form
      const high = s.charCodeAt(i + 3);
      const low = s.charCodeAt(i + 4);
      if (s.charCodeAt(i + 1) !== 0x30 || s.charCodeAt(i + 2) !== 0x30) return -1;
      if ((high !== 0x30 && high !== 0x31) || !isLowerHex(low)) return -1;
      const code = Number.parseInt(s.slice(i + 3, i + 5), 16);
      return code === 8 || code === 9 || code === 10 || code === 12 || code === 13 ? -1 : 5;
    }
    default:
      return -1;
  }
}
