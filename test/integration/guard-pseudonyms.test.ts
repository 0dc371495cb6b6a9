// Pseudonymisation through the whole gateway: the model never receives the names, each answer
// gets back only its own request's names (1,000 concurrent requests, whole and streamed), and
// without reveal the client sees placeholders. LiteLLM and LLM Guard both shipped a bug where
// concurrent requests saw each other's mappings; this is the test that would catch it.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Finding, InspectStage } from '../../src/core/index.js';
import { textSlots } from '../../src/guard/text-slots.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

/** Finds "Name Surname-<n>" in every text slot: a stand-in detector with exact offsets. */
const inspect: InspectStage = async (ctx) => {
  const findings: Finding[] = [];
  textSlots(ctx.request).forEach((text, message) => {
    for (const m of text.matchAll(/Person-[0-9]+ Example/g))
      findings.push({
        detector: 'test',
        type: 'PERSON',
        score: 1,
        location: { message, start: m.index, end: m.index + m[0].length },
      });
  });
  return { findings };
};

const POLICIES = `
@id("reveal") @obligation("pseudonymize:PERSON; reveal:all")
permit (principal, action == Ztgate::Action::"chat", resource == Ztgate::Model::"demo")
when { principal.roles.contains("clinician") };
@id("hide") @obligation("pseudonymize:PERSON")
permit (principal, action == Ztgate::Action::"chat", resource == Ztgate::Model::"demo")
unless { principal.roles.contains("clinician") };
`;

describe('pseudonymisation in the gateway', () => {
  let t: TestGateway;
  let bundle: string;
  let clinician: string;
  let clerk: string;
  before(async () => {
    bundle = await mkdtemp(join(tmpdir(), 'ztgate-pseudo-'));
    await writeFile(join(bundle, 'policies.cedar'), POLICIES);
    t = await startTestGateway({
      yaml: `policy: { bundle: "${bundle}", watch: false }\nguard: { pseudonyms: { conversationTtl: 1h } }`,
      stageOverrides: { inspect },
    });
    clinician = await t.token('carol', ['clinician']);
    clerk = await t.token('dave', ['clerk']);
  });
  after(async () => {
    await t?.close();
    await rm(bundle, { recursive: true, force: true });
  });

  const say = async (token: string, content: string, conversation?: string): Promise<string> => {
    const res = await fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(conversation ? { 'x-ztgate-conversation': conversation } : {}),
      },
      body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content }] }),
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return (
      (JSON.parse(text) as { choices: { message: { content: string } }[] }).choices[0]?.message.content ?? ''
    );
  };

  it('a named conversation keeps its pseudonyms across turns, even when the history is trimmed', async () => {
    const first = await say(clerk, 'About Person-1 Example.', 'case-77');
    assert.match(first, /About \[PERSON_1\]\./);
    // Turn 2 sends only the new message: the stored mapping keeps Person-1 as [PERSON_1].
    const second = await say(clerk, 'Compare Person-2 Example with Person-1 Example.', 'case-77');
    assert.match(second, /Compare \[PERSON_2\] with \[PERSON_1\]\./);
    // Another conversation, or another caller with the same conversation name, starts afresh.
    assert.match(await say(clerk, 'Compare Person-2 Example.', 'case-78'), /Compare \[PERSON_1\]\./);
    assert.match(
      await say(clinician, 'Compare Person-2 Example with [PERSON_1].', 'case-77'),
      /Compare Person-2 Example with \[PERSON_1\]\./,
    );
    // A caller with reveal gets the values of its own conversation's placeholders back.
    await say(clinician, 'About Person-5 Example.', 'case-90');
    assert.match(
      await say(clinician, 'Remind me about [PERSON_1].', 'case-90'),
      /Remind me about Person-5 Example\./,
    );
  });

  const releasedFor = async (principalSuffix: string) => {
    const rows = [];
    for (let afterSeq = 0; ;) {
      const page = await t.gw.store.audit.list({ afterSeq, limit: 1000 });
      if (page.length === 0) break;
      rows.push(...page.map((r) => r.entry));
      afterSeq = page.at(-1)?.seq ?? afterSeq;
    }
    return rows.filter((e) => e.phase === 'release' && e.principalId?.endsWith(principalSuffix));
  };

  const ask = async (token: string, n: number, stream: boolean): Promise<string> => {
    const res = await fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'demo',
        stream,
        messages: [
          {
            role: 'user',
            content: `Summarise the chart of Person-${n} Example, then greet Person-${n} Example.`,
          },
        ],
      }),
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    if (!stream)
      return (
        (JSON.parse(text) as { choices: { message: { content: string } }[] }).choices[0]?.message.content ??
        ''
      );
    let out = '';
    for (const line of text.split('\n'))
      if (line.startsWith('data: {')) {
        const chunk = JSON.parse(line.slice(6)) as { choices: { delta: { content?: string } }[] };
        out += chunk.choices[0]?.delta.content ?? '';
      }
    return out;
  };

  it('the model sees placeholders; the clerk (no reveal) sees them too', async () => {
    const answer = await ask(clerk, 7, false);
    assert.match(answer, /Summarise the chart of \[PERSON_1\], then greet \[PERSON_1\]\./);
    assert.doesNotMatch(answer, /Person-7/);
  });

  it('1,000 concurrent requests, whole and streamed: each answer holds only its own name', async () => {
    const N = 1000;
    const servedBefore = (await releasedFor('#carol')).length;
    const answers = await Promise.all(
      Array.from({ length: N }, (_, n) => ask(clinician, n, n % 2 === 1).then((a) => [n, a] as const)),
    );
    for (const [n, answer] of answers) {
      assert.match(
        answer,
        new RegExp(`chart of Person-${n} Example, then greet Person-${n} Example\\.`),
        answer,
      );
      const names = [...answer.matchAll(/Person-([0-9]+) Example/g)].map((m) => Number(m[1]));
      assert.deepEqual([...new Set(names)], [n], `request ${n} saw ${names.join(',')}`);
      assert.doesNotMatch(answer, /\[PERSON_/);
    }
    const served = (await releasedFor('#carol')).slice(servedBefore);
    assert.equal(new Set(served.map((e) => e.requestId)).size, served.length, 'one release row per request');
    assert.equal(served.length, N);
    assert.ok(served.every((e) => e.transformations.includes('transform:pseudonymizex2')));
  });
});
