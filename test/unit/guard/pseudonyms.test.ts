import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Finding, ModelRequest } from '../../../src/core/index.js';
import { replaceFindings } from '../../../src/guard/pseudonyms.js';
import { replacementPlan } from '../../../src/guard/replacement-plan.js';
import { textSlots, withTextSlots } from '../../../src/guard/text-slots.js';

const keys = { conversation: randomBytes(32), hash: randomBytes(32) };

/** Findings for every occurrence of each value in each text (what a detector would report). */
function findingsOf(texts: readonly string[], values: Record<string, string>): Finding[] {
  const out: Finding[] = [];
  texts.forEach((text, message) => {
    for (const [value, type] of Object.entries(values)) {
      for (let at = text.indexOf(value); at >= 0; at = text.indexOf(value, at + 1))
        out.push({
          detector: 'test',
          type,
          score: 1,
          location: { message, start: at, end: at + value.length },
        });
    }
  });
  return out;
}

const plan = (...obligations: [string, string][]) =>
  replacementPlan(obligations.map(([kind, value]) => ({ kind, value })));

describe('replaceFindings', () => {
  it('pseudonymises consistently: the same value keeps its placeholder across slots', () => {
    const texts = ['Jane Doe wrote to bob@example.com.', 'Ask Jane Doe, then John Roe.'];
    const r = replaceFindings(
      texts,
      findingsOf(texts, { 'Jane Doe': 'PERSON', 'John Roe': 'PERSON', 'bob@example.com': 'EMAIL_ADDRESS' }),
      plan(['pseudonymize', 'PERSON,EMAIL_ADDRESS']),
      keys,
    );
    assert.deepEqual(r.texts, ['[PERSON_1] wrote to [EMAIL_ADDRESS_1].', 'Ask [PERSON_1], then [PERSON_2].']);
    assert.equal(r.counts.get('pseudonymize'), 4);
  });

  it('applies the strictest method per type and leaves unplanned types alone', () => {
    const texts = ['Card 4111 1111 1111 1111, mail jane@corp.example, Jane, 10.0.0.1'];
    const r = replaceFindings(
      texts,
      findingsOf(texts, {
        '4111 1111 1111 1111': 'CREDIT_CARD',
        'jane@corp.example': 'EMAIL_ADDRESS',
        Jane: 'PERSON',
        '10.0.0.1': 'IP_ADDRESS',
      }),
      plan(['mask', 'CREDIT_CARD,EMAIL_ADDRESS'], ['redact', 'EMAIL_ADDRESS'], ['hash', 'PERSON']),
      keys,
    );
    const text = r.texts[0] ?? '';
    assert.match(text, /^Card \*\*\*\*1111, mail \[EMAIL_ADDRESS\], \[PERSON_h[0-9a-f]{8}\], 10\.0\.0\.1$/);
    // hash is stable (same key, same value), pseudonyms are not derivable from it
    const again = replaceFindings(
      ['Jane'],
      findingsOf(['Jane'], { Jane: 'PERSON' }),
      plan(['hash', 'PERSON']),
      keys,
    );
    assert.equal(again.texts[0], /\[PERSON_h[0-9a-f]{8}\]/.exec(text)?.[0]);
  });

  it('numbers after placeholders already in the history, so a new value never takes an old number', () => {
    const texts = ['Earlier you said [PERSON_1] and [PERSON_2] agreed.', 'Now Alice Smith joins.'];
    const r = replaceFindings(
      texts,
      findingsOf(texts, { 'Alice Smith': 'PERSON' }),
      plan(['pseudonymize', 'PERSON']),
      keys,
    );
    assert.equal(r.texts[1], 'Now [PERSON_3] joins.');
  });

  it('restores only what reveal allows, and only values of this request', () => {
    const texts = ['Jane Doe at jane@x.example'];
    const f = findingsOf(texts, { 'Jane Doe': 'PERSON', 'jane@x.example': 'EMAIL_ADDRESS' });
    const some = replaceFindings(
      texts,
      f,
      plan(['pseudonymize', 'PERSON,EMAIL_ADDRESS'], ['reveal', 'PERSON']),
      keys,
    );
    assert.deepEqual(some.restorer.restore('Hello [PERSON_1] ([EMAIL_ADDRESS_1]) and [PERSON_9]'), {
      text: 'Hello Jane Doe ([EMAIL_ADDRESS_1]) and [PERSON_9]',
      restored: 1,
    });
    const none = replaceFindings(texts, f, plan(['pseudonymize', 'PERSON']), keys);
    assert.equal(none.restorer.restore('[PERSON_1]').text, '[PERSON_1]', 'no reveal: nothing restored');
    const all = replaceFindings(
      texts,
      f,
      plan(['pseudonymize', 'PERSON,EMAIL_ADDRESS'], ['reveal', 'all']),
      keys,
    );
    assert.equal(all.restorer.restore('[EMAIL_ADDRESS_1]/[PERSON_1]').text, 'jane@x.example/Jane Doe');
  });

  it('restores placeholders split across stream deltas, at every split point', () => {
    const texts = ['Write to Jane Doe'];
    const r = replaceFindings(
      texts,
      findingsOf(texts, { 'Jane Doe': 'PERSON' }),
      plan(['pseudonymize', 'PERSON'], ['reveal', 'all']),
      keys,
    );
    const answer = 'Dear [PERSON_1], thanks [x] and [PERSON_1]. [unfinished';
    for (let a = 0; a <= answer.length; a++) {
      for (const b of [a, Math.min(answer.length, a + 3), answer.length]) {
        const s = r.restorer.stream();
        const out =
          s.push(answer.slice(0, a)) + s.push(answer.slice(a, b)) + s.push(answer.slice(b)) + s.end();
        assert.equal(out, 'Dear Jane Doe, thanks [x] and Jane Doe. [unfinished', `split at ${a}/${b}`);
        assert.equal(s.restored(), 2);
      }
    }
  });

  it('never holds back more than a placeholder can be long', () => {
    const r = replaceFindings(
      ['Jane'],
      findingsOf(['Jane'], { Jane: 'PERSON' }),
      plan(['pseudonymize', 'PERSON'], ['reveal', 'all']),
      keys,
    );
    const s = r.restorer.stream();
    assert.equal(s.push('a [' + 'x'.repeat(10)), 'a ');
    assert.equal(s.push('y'.repeat(60)), '[' + 'x'.repeat(10) + 'y'.repeat(60));
  });

  it('keeps overlapping findings from corrupting the text (the longer span wins)', () => {
    const texts = ['mail jane@corp.example now'];
    const f: Finding[] = [
      { detector: 't', type: 'URL', score: 1, location: { message: 0, start: 10, end: 22 } },
      { detector: 't', type: 'EMAIL_ADDRESS', score: 1, location: { message: 0, start: 5, end: 22 } },
    ];
    const r = replaceFindings(texts, f, plan(['redact', 'URL,EMAIL_ADDRESS']), keys);
    assert.deepEqual(r.texts, ['mail [EMAIL_ADDRESS] now']);
  });
});

describe('text slots', () => {
  it('reads and rewrites contents, text parts, tool-call arguments and embedding inputs in order', () => {
    const chat: ModelRequest = {
      route: 'chat.completions',
      body: {
        model: 'm',
        messages: [
          { role: 'system', content: 'sys' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'a' },
              { type: 'image_url', image_url: { url: 'x' } },
              { type: 'text', text: 'b' },
            ],
          },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: '1', type: 'function', function: { name: 'f', arguments: '{"x":1}' } }],
          },
        ],
      },
    };
    assert.deepEqual(textSlots(chat), ['sys', 'a', 'b', '{"x":1}']);
    const rewritten = withTextSlots(chat, ['S', 'A', 'B', '{}']);
    assert.deepEqual(textSlots(rewritten), ['S', 'A', 'B', '{}']);
    assert.equal(
      (rewritten.body as unknown as { messages: { content: unknown }[] }).messages[2]?.content,
      null,
    );
    const emb: ModelRequest = { route: 'embeddings', body: { model: 'm', input: ['p', 'q'] } };
    assert.deepEqual(textSlots(withTextSlots(emb, ['P', 'Q'])), ['P', 'Q']);
    assert.throws(() => withTextSlots(emb, ['P']), /mismatch/);
  });
});
