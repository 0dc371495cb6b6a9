import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { STAGE_FAILURE_CODE, type Stages, type StageName } from '../../src/core/index.js';
import { startFakeUpstream, FAKE_ANSWER, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Fail closed, proven per stage: a stage that throws or hangs refuses the request with that
 * stage's code; before the upstream, the upstream is never called; after it, nothing is released.
 */

const never = <T>(): Promise<T> => new Promise<T>(() => {});
const boom = async (): Promise<never> => {
  throw new Error('stage exploded: internal detail that must not leak');
};

type Mode = 'throws' | 'hangs';

function faulty(stage: StageName, mode: Mode): Partial<Stages> {
  const fail = mode === 'throws' ? boom : never;
  switch (stage) {
    case 'authenticate':
      return { authenticate: fail };
    case 'inspect':
      return { inspect: fail };
    case 'decide':
      return { decide: fail };
    case 'transform':
      return { transform: fail };
    case 'route':
      return { route: fail };
    case 'scan_output':
      return {
        scanOutput: {
          scan: fail,
          openStream: () => ({ push: fail, end: fail, findings: () => [], transformations: () => [] }),
        },
      };
    case 'record':
      return { record: fail };
    default:
      throw new Error(`no fault for ${stage}`);
  }
}

const TIMEOUTS = `
pipeline:
  stageTimeoutsMs: { authenticate: 300, inspect: 300, decide: 300, transform: 300, route: 300, scan_output: 300, record: 300 }
`;

async function withGateway(
  fake: FakeUpstream,
  overrides: Partial<Stages>,
  run: (t: TestGateway, token: string) => Promise<void>,
): Promise<void> {
  const t = await startTestGateway({
    stageOverrides: overrides,
    yaml: `${TIMEOUTS}
upstreams:
  fake: { kind: openai-compatible, baseUrl: "${fake.url}", retries: 0 }
models:
  - { id: m, upstream: fake, upstreamModel: fake-model }
`,
  });
  try {
    await run(t, await t.token('alice'));
  } finally {
    await t.close();
  }
}

async function post(t: TestGateway, token: string, path: string, body: object) {
  const res = await fetch(`${t.gw.dataUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

const CHAT = { model: 'm', messages: [{ role: 'user', content: 'hello' }] };

describe('fail closed, stage by stage', () => {
  let fake: FakeUpstream;
  before(async () => {
    fake = await startFakeUpstream();
  });
  after(() => fake.close());

  const before_upstream: StageName[] = ['authenticate', 'inspect', 'decide', 'transform', 'route'];
  for (const stage of before_upstream) {
    for (const mode of ['throws', 'hangs'] as const) {
      it(`${stage} ${mode}: refused with ${STAGE_FAILURE_CODE[stage]}, upstream never called`, async () => {
        await withGateway(fake, faulty(stage, mode), async (t, token) => {
          const before = fake.total();
          for (const body of [CHAT, { ...CHAT, stream: true }]) {
            const res = await post(t, token, '/v1/chat/completions', body);
            assert.equal(res.status, 503, res.text);
            const error = (JSON.parse(res.text) as { error: { code: string; message: string } }).error;
            assert.equal(error.code, STAGE_FAILURE_CODE[stage]);
            assert.doesNotMatch(res.text, /exploded|internal detail|stack/i);
          }
          const emb = await post(t, token, '/v1/embeddings', { model: 'm', input: 'x' });
          assert.equal(emb.status, 503);
          assert.equal(fake.total(), before, 'the upstream must not be called');
        });
      });
    }
  }

  for (const stage of ['scan_output', 'record'] as const) {
    for (const mode of ['throws', 'hangs'] as const) {
      it(`${stage} ${mode}: refused with ${STAGE_FAILURE_CODE[stage]}, the answer is not released`, async () => {
        await withGateway(fake, faulty(stage, mode), async (t, token) => {
          for (const body of [CHAT, { ...CHAT, stream: true }]) {
            const res = await post(t, token, '/v1/chat/completions', body);
            assert.equal(res.status, 503, res.text);
            assert.equal(
              (JSON.parse(res.text) as { error: { code: string } }).error.code,
              STAGE_FAILURE_CODE[stage],
            );
            assert.ok(!res.text.includes('forty-two') && !res.text.includes(FAKE_ANSWER.slice(0, 15)));
          }
        });
      });
    }
  }

  it('decide: a deny decision is 403 policy_denied and the upstream is never called', async () => {
    const deny: Partial<Stages> = {
      decide: async () => ({
        effect: 'deny',
        determiningPolicies: ['secret-policy-name'],
        obligations: [],
        errors: [],
        bundleDigest: 'x',
      }),
    };
    await withGateway(fake, deny, async (t, token) => {
      const before = fake.total();
      const res = await post(t, token, '/v1/chat/completions', CHAT);
      assert.equal(res.status, 403);
      assert.equal((JSON.parse(res.text) as { error: { code: string } }).error.code, 'policy_denied');
      assert.doesNotMatch(res.text, /secret-policy-name/);
      assert.equal(fake.total(), before);
    });
  });

  it('decide: anything but an explicit allow denies', async () => {
    const odd = {
      decide: async () => ({
        effect: 'maybe' as 'allow',
        determiningPolicies: [],
        obligations: [],
        errors: [],
        bundleDigest: 'x',
      }),
    };
    await withGateway(fake, odd, async (t, token) => {
      const before = fake.total();
      const res = await post(t, token, '/v1/chat/completions', CHAT);
      assert.equal(res.status, 403);
      assert.equal(fake.total(), before);
    });
  });

  it('a watch sink that throws does not affect the answer', async () => {
    await withGateway(
      fake,
      {
        watch: () => {
          throw new Error('watcher broke');
        },
      },
      async (t, token) => {
        const res = await post(t, token, '/v1/chat/completions', CHAT);
        assert.equal(res.status, 200);
        assert.match(res.text, /forty-two/);
      },
    );
  });

  it('the store failing makes the record stage refuse (real store closed under the gateway)', async () => {
    await withGateway(fake, {}, async (t, token) => {
      const ok = await post(t, token, '/v1/chat/completions', CHAT);
      assert.equal(ok.status, 200);
      await t.gw.store.close();
      const res = await post(t, token, '/v1/chat/completions', CHAT);
      assert.equal(res.status, 503);
      assert.equal((JSON.parse(res.text) as { error: { code: string } }).error.code, 'audit_unavailable');
      assert.ok(!res.text.includes('forty-two'));
    });
  });
});
