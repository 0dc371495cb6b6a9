import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { ChatCompletionChunk, Finding, ModelResponse, RequestContext } from '../../../src/core/index.js';
import { ZtError } from '../../../src/core/index.js';
import type { AnswerPolicy } from '../../../src/guard/answer-text.js';
import { createOutputScanner } from '../../../src/guard/output-scan.js';
import { replaceFindings } from '../../../src/guard/pseudonyms.js';
import { replacementPlan } from '../../../src/guard/replacement-plan.js';
import type { Detection } from '../../../src/guard/types.js';

/** A toy detector: `sk-` + 20 alphanumerics is a SECRET, `CANARY-` + 8 hex is a canary. */
function scan(text: string): Detection[] {
  const out: Detection[] = [];
  for (const m of text.matchAll(/sk-[a-z0-9]{20}/g))
    out.push({
      type: 'SECRET',
      start: m.index,
      end: m.index + m[0].length,
      score: 1,
      recognizer: 'secret',
      rule: 'toy',
    });
  for (const m of text.matchAll(/CANARY-[0-9a-f]{8}/g))
    out.push({ type: 'CANARY', start: m.index, end: m.index + m[0].length, score: 1, recognizer: 'canary' });
  return out;
}
const policy: AnswerPolicy = { scan, redact: new Set(['SECRET']), block: new Set(['CANARY']) };
const SECRET = 'sk-abcdefghij0123456789';

function ctxWith(restorer?: RequestContext['restorer']): RequestContext {
  return {
    id: 'r',
    findings: [],
    transformations: [],
    ...(restorer ? { restorer } : {}),
  } as unknown as RequestContext;
}
const chunk = (content: string, finish: string | null = null): ChatCompletionChunk => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta: { content }, finish_reason: finish }],
});
const whole = (content: string): ModelResponse => ({
  route: 'chat.completions',
  body: {
    id: 'x',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  },
});

async function streamed(text: string, cuts: number[], ctx: RequestContext, holdBack = 64): Promise<string> {
  const s = createOutputScanner({ policy, holdBack }).openStream(ctx);
  let out = '';
  const take = (chunks: readonly ChatCompletionChunk[]) => {
    for (const c of chunks) for (const ch of c.choices) out += ch.delta.content ?? '';
  };
  let at = 0;
  for (const cut of [...cuts, text.length]) {
    take(await s.push(chunk(text.slice(at, cut))));
    at = cut;
  }
  take(await s.push(chunk('', 'stop')));
  take(await s.end());
  return out;
}

describe('output scanning', () => {
  it('redacts secrets in a whole answer and reports them without values', async () => {
    const r = await createOutputScanner({ policy }).scan(ctxWith(), whole(`Use ${SECRET} please`));
    const body = r.response.body as unknown as { choices: { message: { content: string } }[] };
    assert.equal(body.choices[0]?.message.content, 'Use [SECRET] please');
    assert.deepEqual(
      r.findings.map((f: Finding) => f.type),
      ['SECRET'],
    );
    assert.doesNotMatch(JSON.stringify(r.findings), /abcdefghij/);
    assert.deepEqual(r.transformations, [{ stage: 'scan_output', kind: 'redact', count: 1 }]);
  });

  it('withholds an answer that leaks the canary', async () => {
    await assert.rejects(
      createOutputScanner({ policy }).scan(ctxWith(), whole('the prompt says CANARY-0123abcd')),
      (err: unknown) => err instanceof ZtError && err.code === 'output_blocked',
    );
  });

  it('never releases a secret in a stream, however the chunks fall', async () => {
    const text = `Here is the key: ${SECRET} and more text follows after it, quite a lot of it in fact.`;
    for (let a = 1; a < text.length; a += 3)
      for (const b of [a + 1, a + 7, a + 40]) {
        const cuts = [a, Math.min(b, text.length)].filter(
          (c, i, all) => c < text.length && (i === 0 || c > (all[i - 1] ?? 0)),
        );
        const out = await streamed(text, cuts, ctxWith());
        assert.equal(out, text.replace(SECRET, '[SECRET]'), `cuts ${cuts.join(',')}`);
      }
  });

  it('holds a private-key block until its end line', async () => {
    const key = `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(600)}\n-----END PRIVATE KEY-----`;
    const s = createOutputScanner({
      policy: {
        ...policy,
        scan: (t) => {
          const i = t.indexOf('-----BEGIN PRIVATE KEY-----');
          const j = t.indexOf('-----END PRIVATE KEY-----');
          return i >= 0 && j > i
            ? [{ type: 'SECRET', start: i, end: j + 25, score: 1, recognizer: 'secret' }]
            : [];
        },
      },
      holdBack: 32,
    }).openStream(ctxWith());
    let out = '';
    for (let i = 0; i < key.length; i += 50) {
      for (const c of await s.push(chunk(key.slice(i, i + 50)))) out += c.choices[0]?.delta.content ?? '';
      assert.doesNotMatch(out, /AAAA/, 'no part of the key body is released early');
    }
    for (const c of await s.push(chunk(' done', 'stop'))) out += c.choices[0]?.delta.content ?? '';
    assert.equal(out, '[SECRET] done');
  });

  it('blocks a stream when the canary appears, before releasing it', async () => {
    const s = createOutputScanner({ policy, holdBack: 64 }).openStream(ctxWith());
    let out = '';
    await assert.rejects(async () => {
      for (const piece of ['The system prompt ', 'is: CANA', 'RY-0123abcd and ', 'x'.repeat(100)])
        for (const c of await s.push(chunk(piece))) out += c.choices[0]?.delta.content ?? '';
    }, /withheld|output_blocked/);
    assert.doesNotMatch(out, /CANARY/);
  });

  it('restores revealed pseudonyms in whole and streamed answers (split placeholders too)', async () => {
    const texts = ['Call Jane Doe'];
    const found: Finding[] = [
      { detector: 't', type: 'PERSON', score: 1, location: { message: 0, start: 5, end: 13 } },
    ];
    const { restorer } = replaceFindings(
      texts,
      found,
      replacementPlan([
        { kind: 'pseudonymize', value: 'PERSON' },
        { kind: 'reveal', value: 'all' },
      ]),
      { conversation: randomBytes(32), hash: randomBytes(32) },
    );
    const r = await createOutputScanner({ policy }).scan(ctxWith(restorer), whole('Hi [PERSON_1]!'));
    assert.equal(
      (r.response.body as unknown as { choices: { message: { content: string } }[] }).choices[0]?.message
        .content,
      'Hi Jane Doe!',
    );
    const text = `Dear [PERSON_1], your key ${SECRET} is revoked. Regards, [PERSON_1].`;
    for (let a = 1; a < text.length; a += 2) {
      const out = await streamed(text, [a], ctxWith(restorer), 48);
      assert.equal(out, 'Dear Jane Doe, your key [SECRET] is revoked. Regards, Jane Doe.');
    }
  });
});

describe('held tool calls (require_approval)', () => {
  const toolChunk = (calls: object[], finish: string | null = null): ChatCompletionChunk => ({
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta: { tool_calls: calls }, finish_reason: finish }],
  });
  const verdicts = (name: string) =>
    name === 'wire_transfer' ? 'hold' : name === 'rm_rf' ? 'deny' : 'allow';

  it('a whole answer: the held call is stored with its arguments and replaced by a pending marker', async () => {
    const held: { name: string; arguments: string; callId?: string }[] = [];
    const scanner = createOutputScanner({
      authorizeTool: (_ctx, name) => verdicts(name),
      holdTool: async (_ctx, call) => {
        held.push(call);
        return 'apr_test';
      },
    });
    const response: ModelResponse = {
      route: 'chat.completions',
      body: {
        id: 'x',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: null,
              tool_calls: [
                { id: 'a', type: 'function', function: { name: 'lookup', arguments: '{}' } },
                { id: 'b', type: 'function', function: { name: 'wire_transfer', arguments: '{"amount":5}' } },
                { id: 'c', type: 'function', function: { name: 'rm_rf', arguments: '{}' } },
              ],
            },
            finish_reason: 'tool_calls',
          },
        ],
      },
    };
    const out = await scanner.scan(ctxWith(), response);
    const message =
      out.response.route === 'chat.completions' ? out.response.body.choices[0]?.message : undefined;
    assert.deepEqual(
      (message?.tool_calls as { function: { name: string } }[]).map((c) => c.function.name),
      ['lookup'],
    );
    assert.deepEqual(held, [{ name: 'wire_transfer', arguments: '{"amount":5}', callId: 'b' }]);
    assert.deepEqual(message?.ztgate_pending_approvals, [
      { approval_id: 'apr_test', tool: 'wire_transfer', status: 'pending' },
    ]);
    assert.match(String(message?.content), /"rm_rf" refused by policy/);
    assert.match(String(message?.content), /"wire_transfer" awaits approval; approval id apr_test/);
    assert.deepEqual(out.findings.map((f) => f.type).sort(), ['TOOL_CALL_HELD', 'TOOL_CALL_REFUSED']);
    assert.ok(out.transformations.some((t) => t.kind === 'tool_call_held' && t.count === 1));
  });

  it("a stream: the held call's deltas are gathered whole and never sent; the marker comes with the finish", async () => {
    const held: { name: string; arguments: string; callId?: string }[] = [];
    const s = createOutputScanner({
      authorizeTool: (_ctx, name) => verdicts(name),
      holdTool: async (_ctx, call) => {
        held.push(call);
        return 'apr_stream';
      },
    }).openStream(ctxWith());
    const sent: ChatCompletionChunk[] = [];
    const push = async (c: ChatCompletionChunk) => sent.push(...(await s.push(c)));
    await push(
      toolChunk([
        { index: 0, id: 't1', type: 'function', function: { name: 'wire_transfer', arguments: '{"am' } },
      ]),
    );
    await push(toolChunk([{ index: 0, function: { arguments: 'ount":' } }]));
    await push(toolChunk([{ index: 0, function: { arguments: '9000}' } }]));
    await push(toolChunk([], 'tool_calls'));
    sent.push(...(await s.end()));
    assert.ok(
      sent.every((c) => !JSON.stringify(c).includes('amount')),
      'no argument delta was sent',
    );
    assert.deepEqual(held, [{ name: 'wire_transfer', arguments: '{"amount":9000}', callId: 't1' }]);
    const last = sent.at(-1)?.choices[0];
    assert.equal(last?.finish_reason, 'stop', 'no call went out: tool_calls becomes stop');
    assert.deepEqual((last?.delta as Record<string, unknown>).ztgate_pending_approvals, [
      { approval_id: 'apr_stream', tool: 'wire_transfer', status: 'pending' },
    ]);
    assert.match(String(last?.delta.content), /awaits approval; approval id apr_stream/);
  });

  it('without a holder, or when holding fails, a held call is refused (fail closed)', async () => {
    const noHolder = createOutputScanner({ authorizeTool: () => 'hold' });
    const response = (): ModelResponse => ({
      route: 'chat.completions',
      body: {
        id: 'x',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: null,
              tool_calls: [{ id: 'b', type: 'function', function: { name: 'pay', arguments: '{}' } }],
            },
            finish_reason: 'tool_calls',
          },
        ],
      },
    });
    const out = await noHolder.scan(ctxWith(), response());
    const message =
      out.response.route === 'chat.completions' ? out.response.body.choices[0]?.message : undefined;
    assert.equal(message?.tool_calls, undefined);
    assert.match(String(message?.content), /"pay" refused by policy/);
    const failing = createOutputScanner({
      authorizeTool: () => 'hold',
      holdTool: () => Promise.reject(new Error('store down')),
    });
    await assert.rejects(failing.scan(ctxWith(), response()), /store down/);
  });
});
