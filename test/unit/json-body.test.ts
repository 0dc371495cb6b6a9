import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonDepthExceeds, parseJsonBody } from '../../src/gateway/json-body.js';
import { ZtError } from '../../src/core/index.js';

describe('JSON body parsing', () => {
  it('measures depth, ignoring brackets inside strings and escaped quotes', () => {
    assert.equal(jsonDepthExceeds('{"a":[[1]]}', 3), false);
    assert.equal(jsonDepthExceeds('{"a":[[[1]]]}', 3), true);
    assert.equal(jsonDepthExceeds('{"a":"[[[[[[\\"[[[["}', 1), false);
  });

  it('runs in linear time on a huge nesting bomb', () => {
    const bomb = Buffer.from('['.repeat(5_000_000));
    assert.throws(
      () => parseJsonBody(bomb, 32),
      (e: unknown) => e instanceof ZtError && e.code === 'json_too_deep',
    );
  });

  it('rejects bad UTF-8, lone surrogates (also in keys), non-objects', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as ZtError).code;
      }
      return 'ok';
    };
    assert.equal(
      code(() => parseJsonBody(Buffer.from([0x7b, 0xff, 0x7d]), 8)),
      'invalid_unicode',
    );
    assert.equal(
      code(() => parseJsonBody(Buffer.from('{"\\udc00":1}'), 8)),
      'invalid_unicode',
    );
    assert.equal(
      code(() => parseJsonBody(Buffer.from('"x"'), 8)),
      'invalid_request',
    );
    assert.equal(
      code(() => parseJsonBody(Buffer.from('{"a":'), 8)),
      'invalid_json',
    );
    assert.equal(
      code(() => parseJsonBody(Buffer.from('{"a":"\\ud83d\\ude00"}'), 8)),
      'ok',
    );
  });

  it('does not let __proto__ pollute prototypes', () => {
    const value = parseJsonBody(Buffer.from('{"__proto__":{"polluted":true}}'), 8);
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
  });
});
