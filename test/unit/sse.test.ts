import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseParseError, SseParser, type SseEvent } from '../../src/runtime/connectors/sse.js';

/** Feeds the pieces in order and returns the data of every event, including those flushed by end(). */
function parse(pieces: readonly (string | Uint8Array)[], parser = new SseParser()): string[] {
  const events: SseEvent[] = [];
  for (const piece of pieces)
    events.push(...(typeof piece === 'string' ? parser.push(piece) : parser.pushBytes(piece)));
  events.push(...parser.end());
  return events.map((e) => e.data);
}

describe('SseParser', () => {
  it('parses simple events', () => {
    assert.deepEqual(parse(['data: {"a":1}\n\ndata: {"a":2}\n\n']), ['{"a":1}', '{"a":2}']);
  });

  it('joins lines split at every possible position across chunks', () => {
    const text = 'data: hello\n\ndata: world\r\n\r\n';
    for (let cut = 0; cut <= text.length; cut++) {
      assert.deepEqual(parse([text.slice(0, cut), text.slice(cut)]), ['hello', 'world'], `cut at ${cut}`);
    }
    assert.deepEqual(parse([...text]), ['hello', 'world'], 'one character at a time');
  });

  it('accepts CRLF, LF and lone CR terminators, including a CRLF split between chunks', () => {
    assert.deepEqual(parse(['data: a\r\n\r\ndata: b\n\ndata: c\r\rdata: d\r', '\n\r', '\n']), [
      'a',
      'b',
      'c',
      'd',
    ]);
  });

  it('joins multi-line data fields with \\n', () => {
    assert.deepEqual(parse(['data: line 1\ndata: line 2\ndata:\ndata:line 4\n\n']), [
      'line 1\nline 2\n\nline 4',
    ]);
  });

  it('ignores comments, unknown fields, id and retry, and keeps the event name', () => {
    const parser = new SseParser();
    const events = parser.push(
      ': keep-alive\nid: 7\nretry: 10\nfoo: bar\nevent: delta\ndata: x\n\n:\n\ndata: y\n\n',
    );
    assert.deepEqual(events, [
      { event: 'delta', data: 'x' },
      { event: 'message', data: 'y' },
    ]);
  });

  it('strips only one leading space, and treats a field without a colon as empty', () => {
    assert.deepEqual(parse(['data:  two spaces\n\ndata\n\n']), [' two spaces', '']);
  });

  it('does not dispatch blocks without data', () => {
    assert.deepEqual(parse(['event: ping\n\n\n\n: hi\n\n']), []);
  });

  it('passes [DONE] through as data (the connector decides what it means)', () => {
    assert.deepEqual(parse(['data: {"x":1}\n\ndata: [DONE]\n\n']), ['{"x":1}', '[DONE]']);
  });

  it('decodes UTF-8 split inside a character and drops a leading BOM', () => {
    const bytes = new TextEncoder().encode('\uFEFFdata: héllo €\n\n');
    const pieces = [...bytes].map((b) => Uint8Array.of(b));
    assert.deepEqual(parse(pieces), ['héllo €']);
  });

  it('at end, dispatches complete lines but drops an unterminated one', () => {
    assert.deepEqual(parse(['data: complete\n']), ['complete']);
    assert.deepEqual(parse(['data: complete\ndata: trunc']), ['complete']);
    assert.deepEqual(parse(['data: trunc']), []);
  });

  it('rejects an oversized event, whether it arrives as one long line or many data lines', () => {
    assert.throws(() => parse(['data: ' + 'x'.repeat(2000)], new SseParser(1000)), SseParseError);
    const parser = new SseParser(1000);
    assert.throws(() => {
      for (let i = 0; i < 100; i++) parser.push('data: ' + 'y'.repeat(20) + '\n');
    }, SseParseError);
    const slow = new SseParser(1000);
    assert.throws(() => {
      for (let i = 0; i < 2000; i++) slow.push('z');
    }, SseParseError);
  });

  it('allows many events whose total size exceeds the bound', () => {
    const parser = new SseParser(100);
    let count = 0;
    for (let i = 0; i < 1000; i++) count += parser.push(`data: ${'x'.repeat(50)}\n\n`).length;
    assert.equal(count, 1000);
  });
});
