// The fast leaf-text check of ledger verification must agree exactly with the reference
// definition, canonicalJson(JSON.parse(text)) === text plus the leaf's shape, on canonical texts,
// hand-made edge cases, and many random mutations of them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, MAX_DEPTH } from '../../../src/ledger/canonical-json.js';
import { leafText } from '../../../src/ledger/sequencer.js';
import { checkLeaf, leafTextIndex } from '../../../src/ledger/verify-leaf.js';
import { leafHash } from '../../../src/ledger/merkle.js';
import { testEntry } from '../../helpers/ledger-builder.js';

/** The definition leafTextIndex implements: -1, or the index the canonical leaf names. */
function reference(text: string): number {
  let value: unknown;
  try {
    value = JSON.parse(text);
    if (canonicalJson(value) !== text) return -1;
  } catch {
    return -1;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return -1;
  if (Object.keys(value).join(',') !== 'entry,index,storedAt') return -1;
  const { entry, index, storedAt } = value as Record<string, unknown>;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return -1;
  if (typeof storedAt !== 'string') return -1;
  return typeof index === 'number' && Number.isSafeInteger(index) && index >= 0 ? index : -1;
}

const STORED_AT = '2026-03-03T04:05:06.789Z';

function leaf(entry: unknown, index = 3): string {
  return leafText(canonicalJson(entry), index, STORED_AT);
}

const SAMPLES = [
  leaf(testEntry(1)),
  leaf(testEntry(6), 0),
  leaf({}),
  leaf({ a: [], b: {}, c: [[], [{}]], d: [1, -2, 0.5, 1e21, 1e-7, 123456789012345680000, -0.0001] }),
  leaf({ s: 'quote " backslash \\ slash / tab \t nl \n cr \r ff \f bs \b nul \u0000 us \u001f del \u007f' }),
  leaf({ s: 'é ✓ 𝄞 😀 \u2028 \u2029 \ufeff', é: 1, z: 2, '😀': 3, '\u0000': 4, '': 5, '\\': 6 }),
  leaf({ t: true, f: false, n: null, nested: { deeper: { deepest: [true, false, null, 'x'] } } }),
  leaf(testEntry(2), 9_007_199_254_740_991),
];

const EDGE_CASES = [
  '{"entry":{},"index":3,"storedAt":"x"}',
  '{"entry":{},"index":3,"storedAt":"x"} ',
  ' {"entry":{},"index":3,"storedAt":"x"}',
  '{"entry":{}, "index":3,"storedAt":"x"}',
  '{"entry":[],"index":3,"storedAt":"x"}',
  '{"entry":null,"index":3,"storedAt":"x"}',
  '{"entry":{},"index":-1,"storedAt":"x"}',
  '{"entry":{},"index":1.5,"storedAt":"x"}',
  '{"entry":{},"index":9007199254740992,"storedAt":"x"}',
  '{"entry":{},"index":1e+21,"storedAt":"x"}',
  '{"entry":{},"index":"3","storedAt":"x"}',
  '{"entry":{},"index":3,"storedAt":3}',
  '{"entry":{},"index":3,"storedAt":"x","zzz":1}',
  '{"entry":{},"index":3}',
  '{"entry":{"a":1,"a":1},"index":3,"storedAt":"x"}',
  '{"entry":{"b":1,"a":1},"index":3,"storedAt":"x"}',
  '{"entry":{"a":-0},"index":3,"storedAt":"x"}',
  '{"entry":{"a":1.0},"index":3,"storedAt":"x"}',
  '{"entry":{"a":1E3},"index":3,"storedAt":"x"}',
  '{"entry":{"a":1e21},"index":3,"storedAt":"x"}',
  '{"entry":{"a":1e+21},"index":3,"storedAt":"x"}',
  '{"entry":{"a":01},"index":3,"storedAt":"x"}',
  '{"entry":{"a":1e400},"index":3,"storedAt":"x"}',
  '{"entry":{"a":"\\u00e9"},"index":3,"storedAt":"x"}',
  '{"entry":{"a":"\\u001f"},"index":3,"storedAt":"x"}',
  '{"entry":{"a":"\\u001F"},"index":3,"storedAt":"x"}',
  '{"entry":{"a":"\\u0008"},"index":3,"storedAt":"x"}',
  '{"entry":{"a":"\\b"},"index":3,"storedAt":"x"}',
  '{"entry":{"a":"\\/"},"index":3,"storedAt":"x"}',
  '{"entry":{"a":"\\ud800"},"index":3,"storedAt":"x"}',
  '{"entry":{"a":"\\ud83d\\ude00"},"index":3,"storedAt":"x"}',
  '{"entry":{"a":"\ud800"},"index":3,"storedAt":"x"}',
  '{"entry":{"a":"\udc00\ud800"},"index":3,"storedAt":"x"}',
  '{"entry":{"\\ud800":1},"index":3,"storedAt":"x"}',
  '{"entry":{"a\\"":1,"a":2},"index":3,"storedAt":"x"}',
  '{"entry":{"a":2,"a\\"":1},"index":3,"storedAt":"x"}',
  '{"entry":{"__proto__":1},"index":3,"storedAt":"x"}',
  '{"entry":{"a":tru},"index":3,"storedAt":"x"}',
  '{"entry":{"a":[1,]},"index":3,"storedAt":"x"}',
  '{"entry":{"a":"x\u0001"},"index":3,"storedAt":"x"}',
  '{"entry":{"a":"x\\u0001"},"index":3,"storedAt":"x"}',
  '{"entry":{"a":"unterminated},"index":3,"storedAt":"x"}',
  '{"entry":{},"index":3,"storedAt":"x\\"}',
];

function nested(depth: number): string {
  // `depth` containers in all, counting the leaf object and the entry.
  const inner = '['.repeat(depth - 2) + ']'.repeat(depth - 2);
  return `{"entry":{"a":${inner}},"index":3,"storedAt":"x"}`;
}

/** Deterministic pseudo-random numbers (xorshift32). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const ALPHABET = [
  ' ',
  '"',
  '\\',
  '0',
  '1',
  '9',
  '.',
  'e',
  'E',
  '+',
  '-',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  'u',
  'a',
  '\u0001',
  '\n',
  '\ud800',
  '\udc00',
  'é',
  't',
  'n',
];

function mutate(text: string, next: () => number): string {
  const at = Math.floor(next() * text.length);
  const char = ALPHABET[Math.floor(next() * ALPHABET.length)]!;
  switch (Math.floor(next() * 4)) {
    case 0:
      return text.slice(0, at) + text.slice(at + 1);
    case 1:
      return text.slice(0, at) + char + text.slice(at);
    case 2:
      return text.slice(0, at) + char + text.slice(at + 1);
    default:
      return text.slice(0, at) + text.slice(at + 1, at + 2) + text.slice(at, at + 1) + text.slice(at + 2);
  }
}

describe('leafTextIndex', () => {
  it('accepts canonical leaf texts and returns their index', () => {
    for (const text of SAMPLES) {
      assert.notEqual(reference(text), -1, text);
      assert.equal(leafTextIndex(text), reference(text), text);
    }
  });

  it('agrees with canonicalJson on hand-made edge cases', () => {
    for (const text of EDGE_CASES) assert.equal(leafTextIndex(text), reference(text), text);
    assert.ok(
      EDGE_CASES.some((text) => reference(text) >= 0) && EDGE_CASES.some((text) => reference(text) < 0),
    );
  });

  it('agrees with canonicalJson at the nesting limit', () => {
    for (const depth of [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1]) {
      const text = nested(depth);
      assert.equal(leafTextIndex(text), reference(text), `depth ${depth}`);
    }
    assert.equal(leafTextIndex(nested(MAX_DEPTH)), 3);
    assert.equal(leafTextIndex(nested(MAX_DEPTH + 1)), -1);
  });

  it('agrees with canonicalJson on 50,000 random mutations', () => {
    const next = random(0x2545f491);
    let accepted = 0;
    for (let i = 0; i < 50_000; i++) {
      let text = SAMPLES[i % SAMPLES.length]!;
      const rounds = 1 + Math.floor(next() * 3);
      for (let r = 0; r < rounds; r++) text = mutate(text, next);
      const expected = reference(text);
      if (expected >= 0) accepted++;
      assert.equal(leafTextIndex(text), expected, JSON.stringify(text));
    }
    assert.ok(accepted > 0, 'some mutations stay canonical (a digit for a digit)');
  });
});

describe('checkLeaf', () => {
  it('returns the recomputed hash, or the problem with its code and index', () => {
    const text = leaf(testEntry(4), 4);
    const hash = leafHash(Buffer.from(text, 'utf8'));
    assert.deepEqual(checkLeaf({ index: 4, leafHash: hash, text }, 4), hash);
    const problem = (index: number, k: number, t = text, h = hash) => {
      const result = checkLeaf({ index, leafHash: h, text: t }, k);
      return Buffer.isBuffer(result) ? 'ok' : `${result.code}@${result.index}`;
    };
    assert.equal(problem(5, 4), 'leaf_missing@4');
    assert.equal(problem(3, 4), 'leaf_inserted@3');
    assert.equal(problem(4, 4, text, Buffer.alloc(32)), 'leaf_modified@4');
    assert.equal(problem(5, 5), 'leaf_inserted@5');
    assert.equal(problem(3, 3), 'leaf_out_of_order@3');
    assert.equal(problem(4, 4, text.slice(1)), 'leaf_malformed@4');
  });
});
