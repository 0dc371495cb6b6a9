import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  CanonicalJsonError,
  MAX_DEPTH,
  canonicalBytes,
  canonicalJson,
} from '../../../src/ledger/canonical-json.js';

/** RFC 8785 Appendix B: IEEE 754 doubles (hex) and their canonical text. */
const RFC8785_NUMBERS: ReadonlyArray<readonly [string, string]> = [
  ['0000000000000000', '0'],
  ['8000000000000000', '0'],
  ['0000000000000001', '5e-324'],
  ['8000000000000001', '-5e-324'],
  ['7fefffffffffffff', '1.7976931348623157e+308'],
  ['ffefffffffffffff', '-1.7976931348623157e+308'],
  ['4340000000000000', '9007199254740992'],
  ['c340000000000000', '-9007199254740992'],
  ['4430000000000000', '295147905179352830000'],
  ['44b52d02c7e14af5', '9.999999999999997e+22'],
  ['44b52d02c7e14af6', '1e+23'],
  ['44b52d02c7e14af7', '1.0000000000000001e+23'],
  ['444b1ae4d6e2ef4e', '999999999999999700000'],
  ['444b1ae4d6e2ef4f', '999999999999999900000'],
  ['444b1ae4d6e2ef50', '1e+21'],
  ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
  ['3eb0c6f7a0b5ed8d', '0.000001'],
  ['41b3de4355555553', '333333333.3333332'],
  ['41b3de4355555554', '333333333.33333325'],
  ['41b3de4355555555', '333333333.3333333'],
  ['41b3de4355555556', '333333333.3333334'],
  ['41b3de4355555557', '333333333.33333343'],
  ['becbf647612f3696', '-0.0000033333333333333333'],
  ['43143ff3c1cb0959', '1424953923781206.2'],
];

function assertRejects(value: unknown, code: string, path = ''): void {
  assert.throws(
    () => canonicalJson(value),
    (err: unknown) => {
      assert.ok(err instanceof CanonicalJsonError, `threw ${String(err)}`);
      assert.equal(err.code, code);
      assert.equal(err.path, path);
      return true;
    },
  );
}

describe('canonical JSON (RFC 8785)', () => {
  it('serialises numbers as the RFC 8785 Appendix B table says', () => {
    for (const [hex, expected] of RFC8785_NUMBERS) {
      assert.equal(canonicalJson(Buffer.from(hex, 'hex').readDoubleBE(0)), expected, hex);
    }
    assert.equal(canonicalJson(1e21), '1e+21');
    assert.equal(canonicalJson(1e-7), '1e-7');
    assert.equal(canonicalJson(-0), '0');
    assert.equal(canonicalJson(100), '100');
  });

  it('produces the RFC 8785 §3.2.4 example', () => {
    const input = String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`;
    const expected = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;
    assert.equal(canonicalJson(JSON.parse(input)), expected);
    assert.deepEqual(Buffer.from(canonicalBytes(JSON.parse(input))), Buffer.from(expected, 'utf8'));
  });

  it('sorts keys by UTF-16 code units as in RFC 8785 §3.2.3', () => {
    const input = JSON.parse(String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`) as unknown;
    const expected =
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis",' +
      '"€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}';
    assert.equal(canonicalJson(input), expected);
  });

  it('escapes only what JSON requires, with lower-case hex', () => {
    assert.equal(
      canonicalJson('\u0000\u001f\b\t\n\f\r"\\/\u007f\u2028é'),
      '"\\u0000\\u001f\\b\\t\\n\\f\\r\\"\\\\/\u007f\u2028é"',
    );
    assert.deepEqual(Buffer.from(canonicalBytes('€')), Buffer.from([0x22, 0xe2, 0x82, 0xac, 0x22]));
  });

  it('sorts nested objects and keeps array order', () => {
    assert.equal(canonicalJson({ b: [3, { z: 1, a: 2 }], a: {} }), '{"a":{},"b":[3,{"a":2,"z":1}]}');
  });

  it('accepts shared (non-cyclic) references, null-prototype objects and a "__proto__" member', () => {
    const shared = { x: 1 };
    assert.equal(canonicalJson({ a: shared, b: [shared] }), '{"a":{"x":1},"b":[{"x":1}]}');
    const bare = Object.assign(Object.create(null) as object, { k: true });
    assert.equal(canonicalJson(bare), '{"k":true}');
    assert.equal(canonicalJson(JSON.parse('{"__proto__":{"a":1}}')), '{"__proto__":{"a":1}}');
  });

  it('reads each member once, so a getter cannot change the value between check and output', () => {
    let reads = 0;
    const value = {
      get flaky(): unknown {
        reads += 1;
        return reads === 1 ? 'checked' : undefined;
      },
    };
    assert.equal(canonicalJson(value), '{"flaky":"checked"}');
    assert.equal(reads, 1);
  });

  it('rejects what JSON cannot hold, with a typed error and where it is', () => {
    assertRejects(Number.NaN, 'non_finite_number');
    assertRejects({ a: [1, Infinity] }, 'non_finite_number', '/a/1');
    assertRejects(-Infinity, 'non_finite_number');
    assertRejects(undefined, 'undefined_value');
    assertRejects({ a: undefined }, 'undefined_value', '/a');
    assertRejects([1, undefined], 'undefined_value', '/1');
    assertRejects(10n, 'unsupported_type');
    assertRejects({ f: () => 1 }, 'unsupported_type', '/f');
    assertRejects(Symbol('s'), 'unsupported_type');
    assertRejects({ [Symbol('s')]: 1 }, 'unsupported_type');
    assertRejects({ when: new Date(0) }, 'unsupported_type', '/when');
    assertRejects(new Map([['a', 1]]), 'unsupported_type');
    assertRejects(Buffer.from('x'), 'unsupported_type');
    assertRejects(new (class Entry {})(), 'unsupported_type');
    assertRejects([1, , 3], 'sparse_array', '/1'); // eslint-disable-line no-sparse-arrays
    assertRejects({ 'a/b~': '\ud800' }, 'lone_surrogate', '/a~1b~0');
    assertRejects({ '\udc00x': 1 }, 'lone_surrogate', '/\udc00x');
  });

  it('rejects cycles and excessive nesting', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = { inner: cyclic };
    assertRejects(cyclic, 'cycle', '/self/inner');
    const loop: unknown[] = [];
    loop.push(loop);
    assertRejects(loop, 'cycle', '/0');
    let deep: unknown = 1;
    for (let i = 0; i <= MAX_DEPTH; i += 1) deep = [deep];
    assert.throws(() => canonicalJson(deep), { code: 'too_deep' });
  });

  it('is a fixed point and round-trips any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        assert.equal(canonicalJson(JSON.parse(text)), text);
        assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 500 },
    );
  });
});
