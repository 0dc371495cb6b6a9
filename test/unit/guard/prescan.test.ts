// The speed-only pre-scans of the recognizers must never skip a text a pattern could match:
// each is checked against a plain (slow) statement of what it claims, on random texts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeProfile, profileOf } from '../../../src/guard/pii/profile.js';
import { hasLetterRun16 } from '../../../src/guard/pii/national-eu.js';
import { DATE_PATTERNS, createDateTimeRecognizer } from '../../../src/guard/pii/date-time.js';
import { chunks } from '../../../src/guard/ner/chunks.js';
import { activeRules, presentKeywords } from '../../../src/guard/secrets/prefilter.js';
import { SECRET_RULES } from '../../../src/guard/secrets/index.js';
import { asciiLower } from '../../../src/guard/secrets/text.js';

/** A small deterministic generator (xorshift), so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function randomText(next: () => number, alphabet: readonly string[], max: number): string {
  let s = '';
  const n = Math.floor(next() * max);
  const bias = next();
  for (let i = 0; i < n; i++)
    s += next() < bias ? 'x' : (alphabet[Math.floor(next() * alphabet.length)] ?? '');
  return s;
}

test('the digit profile matches a plain reading of the text', () => {
  const next = rng(7);
  const alphabet = ['1', '9', '0', '2', ' ', '.', '-', '+', '/', 'a', 'Z', '_', 'é', ':'];
  for (let k = 0; k < 20_000; k++) {
    const s = randomText(next, alphabet, 40);
    const p = computeProfile(s);
    let maxRun = 0;
    for (const m of s.matchAll(/[0-9]+/g)) maxRun = Math.max(maxRun, m[0].length);
    let maxChain = 0;
    for (const m of s.matchAll(/[0-9]+(?:[ .+-][0-9]+)*/g))
      maxChain = Math.max(maxChain, m[0].replace(/[^0-9]/g, '').length);
    let lengths = 0;
    for (const m of s.matchAll(/\w+/g)) if (/[0-9]/.test(m[0])) lengths |= 1 << Math.min(31, m[0].length);
    assert.deepEqual(
      p,
      {
        maxDigitRun: maxRun,
        maxChain,
        digitWordLengths: lengths,
        digitSepDigit: /[0-9][/.-][0-9]/.test(s),
        yearRun: /(?<![0-9])(?:19|20)[0-9]{2}(?![0-9])/.test(s),
      },
      JSON.stringify(s),
    );
  }
});

test('the profile is shared within one synchronous scan and dropped after it', async () => {
  const text = 'call 555 0132 4567';
  const first = profileOf(text);
  assert.equal(profileOf(text), first);
  await Promise.resolve();
  assert.notEqual(profileOf(text), first);
  assert.deepEqual(profileOf(text), first);
});

test('hasLetterRun16 agrees with /[A-Za-z]{16}/', () => {
  const next = rng(11);
  for (let k = 0; k < 20_000; k++) {
    const s = randomText(next, ['a', 'B', ' ', '1', '-', 'é', '_'], 70);
    assert.equal(hasLetterRun16(s), /[A-Za-z]{16}/.test(s), JSON.stringify(s));
  }
});

test('chunks cut where lastIndexOf would, without reading the whole prefix', () => {
  const next = rng(3);
  const CHUNK = 32 * 1024;
  const LOOK_BACK = 4 * 1024;
  const reference = (text: string): [number, number][] => {
    const out: [number, number][] = [];
    let start = 0;
    while (text.length - start > CHUNK) {
      const hard = start + CHUNK;
      const floor = hard - LOOK_BACK;
      let cut = text.lastIndexOf('\n\n', hard);
      if (cut < floor) cut = text.lastIndexOf('\n', hard);
      if (cut < floor) {
        cut = text.lastIndexOf('. ', hard);
        if (cut >= floor) cut++;
      }
      if (cut < floor) cut = text.lastIndexOf(' ', hard);
      if (cut < floor) {
        cut = hard;
        const c = text.charCodeAt(cut);
        if (c >= 0xdc00 && c <= 0xdfff) cut--;
      }
      if (cut <= start) cut = hard;
      out.push([start, cut]);
      start = cut;
    }
    out.push([start, text.length]);
    return out;
  };
  const parts = ['a', ' ', '\n', '.', '😀', '\n\n', '. '];
  for (let k = 0; k < 40; k++) {
    let s = '';
    const n = 30_000 + Math.floor(next() * 100_000);
    const p = next();
    while (s.length < n)
      s +=
        next() < p ? 'x'.repeat(Math.floor(next() * 9000)) : (parts[Math.floor(next() * parts.length)] ?? '');
    assert.deepEqual(chunks(s), reference(s));
  }
});

test('the keyword pre-filter finds exactly the keywords that occur', () => {
  const keywords = [...new Set(SECRET_RULES.flatMap((r) => r.keywords))];
  const next = rng(5);
  for (let k = 0; k < 300; k++) {
    let s = '';
    for (let i = 0; i < 8; i++) {
      const kw = keywords[Math.floor(next() * keywords.length)] ?? '';
      // whole keywords, and keywords cut short by one character
      s += (next() < 0.5 ? kw : kw.slice(0, -1)) + (next() < 0.5 ? ' ' : 'Q');
    }
    const lower = asciiLower(s);
    const expected = new Set(keywords.filter((kw) => lower.includes(kw)));
    assert.deepEqual(presentKeywords(SECRET_RULES, lower), expected);
    assert.deepEqual(
      activeRules(SECRET_RULES, lower).map((r) => r.id),
      SECRET_RULES.filter((r) => r.keywords.length === 0 || r.keywords.some((kw) => expected.has(kw))).map(
        (r) => r.id,
      ),
    );
  }
});

test('asciiLower lower-cases ASCII letters only and keeps every index', () => {
  for (const s of ['Hello WORLD', 'İSTANBUL Kelvin K', 'ÀÉ AbC', '']) {
    const lower = asciiLower(s);
    assert.equal(lower.length, s.length);
    assert.equal(
      lower,
      s.replace(/[A-Z]/g, (c) => c.toLowerCase()),
    );
  }
});

test('weekdays found near each "day" are the matches of the weekday pattern', () => {
  const weekday = DATE_PATTERNS.find((p) => p.name === 'weekday')?.regex;
  assert.ok(weekday);
  const dates = createDateTimeRecognizer();
  const parts = ['Monday', 'monday', 'Tuesday', 'Wednesday', 'thursday', 'Friday', 'Saturday', 'Sunday'];
  const next = rng(9);
  for (let k = 0; k < 20_000; k++) {
    const s = randomText(next, [...parts, 'day', 'dayday', ' ', 'Mon', 'Sun', '.', '_', 'é'], 8);
    const expected: number[][] = [...s.matchAll(new RegExp(weekday.source, 'g'))].map((m) => [
      m.index,
      m.index + m[0].length,
    ]);
    assert.deepEqual(
      dates.detect(s).map((d) => [d.start, d.end]),
      expected,
      JSON.stringify(s),
    );
  }
});
