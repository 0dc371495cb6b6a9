// POST /v1/policy/validate and /v1/policy/simulate (admin-policy-candidates.ts) against a real
// ledger: a real gateway decides a few requests with a baseline bundle and records each
// decision's inputs; once it has stopped, its SQLite store is opened again and the routes run on a
// bare Fastify app with a stand-in authorizer. Every answer is also checked against the OpenAPI
// document (strict: a field the document does not name fails).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import type { AuditEntry } from '../../src/core/index.js';
import type { AdminAuthorization } from '../../src/gateway/admin-auth.js';
import {
  MAX_CANDIDATE_BYTES,
  registerAdminPolicyCandidates,
} from '../../src/gateway/admin-policy-candidates.js';
import { ADMIN_OPENAPI } from '../../src/gateway/openapi.js';
import { compileBundle } from '../../src/policy/index.js';
import { createStore, type Store } from '../../src/store/index.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const BASELINE = `@id("allow-chat")
permit (principal is Ztgate::User, action == Ztgate::Action::"chat", resource is Ztgate::Model);
@id("forbid-cloud")
forbid (principal, action, resource is Ztgate::Model) when { resource.runtimeKind == "cloud" };
`;
// Cloud models open up; users with the role `blocked` are refused from now on.
const CANDIDATE = `@id("chat-any")
permit (principal is Ztgate::User, action == Ztgate::Action::"chat", resource is Ztgate::Model);
@id("forbid-blocked")
forbid (principal, action, resource) when { principal.roles.contains("blocked") };
`;
const ENTITIES = JSON.stringify([
  {
    uid: { type: 'Ztgate::Model', id: 'onprem' },
    attrs: {
      provider: 'vllm',
      region: 'eu',
      runtimeKind: 'on_prem',
      attestationKind: 'none',
      attested: false,
      dataClasses: ['public', 'internal'],
    },
    parents: [],
  },
]);
const testCase = (name: string, roles: string[], effect: 'allow' | 'deny') => ({
  name,
  principal: { id: 'idp#someone', roles },
  action: 'chat',
  resource: { type: 'Model', id: 'onprem' },
  expect: { effect },
});
const PASSING_TESTS = JSON.stringify([
  testCase('a user chats on prem', [], 'allow'),
  testCase('a blocked user is refused', ['blocked'], 'deny'),
]);
const FAILING_TESTS = JSON.stringify([
  testCase('a user chats on prem', [], 'allow'),
  testCase('a blocked user is let through (wrong)', ['blocked'], 'allow'),
]);

// --- The OpenAPI document's schemas, to check every answer against ---
const DOC_ID = 'https://ztgate.invalid/admin-openapi.json';
const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true, strict: true });
(addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
for (const k of ['openapi', 'info', 'tags', 'security', 'paths', 'components']) ajv.addKeyword(k);
ajv.addSchema({ ...JSON.parse(JSON.stringify(ADMIN_OPENAPI)), $id: DOC_ID });
const esc = (p: string): string => p.replaceAll('~', '~0').replaceAll('/', '~1');

function documented(path: string, res: LightMyRequestResponse): Record<string, unknown> {
  const at = `${DOC_ID}#/paths/${esc(path)}/post/responses/${res.statusCode}/content/application~1json/schema`;
  const validate = ajv.getSchema(at);
  assert.ok(validate, `${path} documents ${res.statusCode}`);
  const body = res.json<Record<string, unknown>>();
  assert.ok(validate(body), `${path} ${res.statusCode}: ${ajv.errorsText(validate.errors)}\n${res.body}`);
  return body;
}

function requestMatches(path: string, body: unknown): boolean {
  const at = `${DOC_ID}#/paths/${esc(path)}/post/requestBody/content/application~1json/schema`;
  const validate = ajv.getSchema(at);
  assert.ok(validate, at);
  return validate(body) as boolean;
}

interface Report {
  ok: boolean;
  total: number;
  unchanged: number;
  allowedToDenied: number;
  deniedToAllowed: number;
  obligationsChanged: number;
  skipped: number;
  scanned: number;
  truncated: boolean;
  since: string | null;
  bundleDigest: string;
  examples: Record<string, { requestId: string; before: { effect: string }; after: { effect: string } }[]>;
}

describe('admin API: validate and simulate a candidate policy bundle', () => {
  let fake: FakeUpstream;
  let t: TestGateway | undefined;
  let home: string;
  let store: Store;
  let app: FastifyInstance;
  const asked: string[] = [];
  const errors: unknown[] = [];
  const ids = { alice: '', bob: '', cloud: '' };

  /** Admin callers by header: `ada` may, `mallory` is denied by policy, nobody is anonymous. */
  const authorize: AdminAuthorization = (request, action) => {
    asked.push(action);
    const who = request.headers['x-test-admin'];
    if (who === 'ada') return 'spiffe://test/ops/ada';
    if (who === 'mallory') return false;
    return undefined;
  };
  const post = (path: string, body: unknown, who = 'ada', contentType = 'application/json') =>
    app.inject({
      method: 'POST',
      url: path,
      headers: { 'content-type': contentType, ...(who ? { 'x-test-admin': who } : {}) },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const controlEntries = async (action: string): Promise<AuditEntry[]> =>
    (await store.audit.list({ phase: 'control', limit: 1000 }))
      .map((r) => r.entry)
      .filter((e) => e.action === action);

  before(async () => {
    fake = await startFakeUpstream();
    home = await mkdtemp(join(tmpdir(), 'ztgate-candidates-'));
    const baseline = join(home, 'baseline');
    await mkdir(baseline);
    await writeFile(join(baseline, 'policies.cedar'), BASELINE);
    t = await startTestGateway({
      yaml: `
policy: { bundle: "${baseline}" }
store: { url: "sqlite:${join(home, 'ledger.db')}" }
upstreams:
  fake: { kind: openai-compatible, baseUrl: "${fake.url}", retries: 0 }
models:
  - { id: onprem, upstream: fake, upstreamModel: fake-model, attributes: { runtimeKind: on_prem, region: eu } }
  - { id: cloud, upstream: fake, upstreamModel: fake-model, attributes: { runtimeKind: cloud, provider: openai } }
`,
    });
    const gw = t;
    const ask = async (user: string, roles: string[], model: string, status: number): Promise<string> => {
      const res = await fetch(`${gw.gw.dataUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await gw.token(user, roles)}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }] }),
      });
      assert.equal(res.status, status, await res.text());
      return res.headers.get('x-request-id') ?? '';
    };
    ids.alice = await ask('alice', [], 'onprem', 200);
    ids.bob = await ask('bob', ['blocked'], 'onprem', 200);
    ids.cloud = await ask('alice', [], 'cloud', 403);
    // A refusal's audit row is written after the refusal went out: wait for it.
    for (let i = 0; i < 100; i++) {
      const rows = await gw.gw.store.audit.list({ limit: 100 });
      if (rows.some((r) => r.entry.requestId === ids.cloud)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await gw.gw.close();
    await rm(gw.home, { recursive: true, force: true });
    t = undefined;

    store = await createStore({ url: `sqlite:${join(home, 'ledger.db')}`, home });
    const decisions = (await store.audit.list({ limit: 1000 })).filter((r) => r.entry.phase !== 'control');
    assert.equal(decisions.length, 3, 'three recorded decisions');
    assert.ok(decisions.every((r) => r.entry.decisionInput?.version === 1));

    app = Fastify();
    await registerAdminPolicyCandidates(app, {
      ledger: store.audit,
      authorize,
      audit: (e) => store.audit.append(e),
      onError: (err) => errors.push(err),
    });
    await app.ready();
  });

  after(async () => {
    await app?.close();
    await store?.close();
    if (t) await t.close();
    await fake?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('validates a candidate whose tests pass, and records it in the ledger', async () => {
    const files = {
      'policies.cedar': CANDIDATE,
      'entities.json': ENTITIES,
      'tests/chat.json': PASSING_TESTS,
    };
    assert.ok(requestMatches('/v1/policy/validate', { files }));
    const res = await post('/v1/policy/validate', { files });
    assert.equal(res.statusCode, 200, res.body);
    const body = documented('/v1/policy/validate', res);
    const digest = compileBundle(new Map(Object.entries(files))).digest;
    assert.deepEqual(body, {
      ok: true,
      digest,
      policyIds: ['chat-any', 'forbid-blocked'],
      tests: { passed: 2, failed: 0, failures: [] },
    });
    assert.equal(asked.at(-1), 'manage_policy');
    const entry = (await controlEntries('policy.validate')).at(-1);
    assert.equal(entry?.target, `policy:candidate:${digest}`);
    assert.equal(entry?.principalId, 'spiffe://test/ops/ada');
    assert.equal(entry?.errorCode, null);
    assert.ok(entry?.transformations.includes('outcome:valid'), JSON.stringify(entry));
    assert.ok(entry?.transformations.includes('tests:2/2'));
  });

  it('answers a candidate that does not parse with ok: false and its code (200), no internals', async () => {
    const before = (await controlEntries('policy.validate')).length;
    const res = await post('/v1/policy/validate', { files: { 'policies.cedar': 'permit (principal,' } });
    assert.equal(res.statusCode, 200, res.body);
    const body = documented('/v1/policy/validate', res);
    assert.equal(body.ok, false);
    assert.equal(body.code, 'policy.parse_failed');
    assert.match(String(body.message), /^policy\.parse_failed: policies\.cedar/);
    assert.doesNotMatch(res.body, /\n\s+at |node_modules|\/src\//);
    const entries = await controlEntries('policy.validate');
    assert.equal(entries.length, before + 1);
    assert.equal(entries.at(-1)?.errorCode, 'policy.parse_failed');
    assert.equal(entries.at(-1)?.target, 'policy:candidate');

    // Other refusals keep their own codes: no policies at all, an invalid test file.
    const empty = await post('/v1/policy/validate', { files: {} });
    assert.equal(documented('/v1/policy/validate', empty).code, 'policy.bundle_empty');
    const badTests = await post('/v1/policy/validate', {
      files: { 'policies.cedar': CANDIDATE, 'tests/x.json': '{"name": 1}' },
    });
    assert.equal(documented('/v1/policy/validate', badTests).code, 'policy.tests_invalid');
  });

  it('reports failing bundle tests with the cases that failed', async () => {
    const res = await post('/v1/policy/validate', {
      files: { 'policies.cedar': CANDIDATE, 'entities.json': ENTITIES, 'tests/chat.json': FAILING_TESTS },
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = documented('/v1/policy/validate', res) as {
      ok: boolean;
      tests: { passed: number; failed: number; failures: { name: string; got: { effect: string } }[] };
    };
    assert.equal(body.ok, true);
    assert.equal(body.tests.passed, 1);
    assert.equal(body.tests.failed, 1);
    assert.equal(body.tests.failures[0]?.name, 'a blocked user is let through (wrong)');
    assert.equal(body.tests.failures[0]?.got.effect, 'deny');
    const entry = (await controlEntries('policy.validate')).at(-1);
    assert.ok(entry?.transformations.includes('outcome:tests_failed'));
  });

  it('simulates a candidate against the recorded decisions: what was allowed is denied', async () => {
    const files = { 'policies.cedar': CANDIDATE };
    const res = await post('/v1/policy/simulate', { files });
    assert.equal(res.statusCode, 200, res.body);
    const r = documented('/v1/policy/simulate', res) as unknown as Report;
    assert.equal(r.ok, true);
    assert.equal(r.bundleDigest, compileBundle(new Map(Object.entries(files))).digest);
    assert.deepEqual(
      [r.total, r.unchanged, r.allowedToDenied, r.deniedToAllowed, r.obligationsChanged, r.skipped],
      [3, 1, 1, 1, 0, 0],
    );
    assert.equal(r.examples.allowedToDenied?.[0]?.requestId, ids.bob);
    assert.equal(r.examples.allowedToDenied?.[0]?.before.effect, 'allow');
    assert.equal(r.examples.allowedToDenied?.[0]?.after.effect, 'deny');
    assert.equal(r.examples.deniedToAllowed?.[0]?.requestId, ids.cloud);
    assert.equal(r.truncated, false);
    assert.equal(r.since, null);
    assert.ok(r.scanned >= 3);
    const entry = (await controlEntries('policy.simulate')).at(-1);
    assert.equal(entry?.target, `policy:candidate:${r.bundleDigest}`);
    assert.ok(entry?.transformations.includes('limit:1000'));
  });

  it('bounds the replay by limit (the newest records) and since', async () => {
    const files = { 'policies.cedar': CANDIDATE };
    // The newest record is this request's own control entry (policy.simulate, recorded first).
    const few = documented(
      '/v1/policy/simulate',
      await post('/v1/policy/simulate', { files, limit: 1 }),
    ) as unknown as Report;
    assert.equal(few.scanned, 1);
    assert.equal(few.truncated, true);
    assert.equal(few.total, 0);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const none = documented(
      '/v1/policy/simulate',
      await post('/v1/policy/simulate', { files, since: future }),
    ) as unknown as Report;
    assert.deepEqual([none.scanned, none.total, none.truncated, none.since], [0, 0, false, future]);
    const past = '2000-01-01T00:00:00Z';
    const all = documented(
      '/v1/policy/simulate',
      await post('/v1/policy/simulate', { files, since: past, limit: 10000 }),
    ) as unknown as Report;
    assert.equal(all.since, '2000-01-01T00:00:00.000Z');
    assert.equal(all.allowedToDenied, 1);
  });

  it('answers a candidate that does not compile with ok: false before reading the ledger', async () => {
    const res = await post('/v1/policy/simulate', {
      files: { 'policies.cedar': '@id("x") permit (principal, action, resource) when { nope };' },
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = documented('/v1/policy/simulate', res);
    assert.equal(body.ok, false);
    assert.match(String(body.code), /^policy\./);
    assert.equal((await controlEntries('policy.simulate')).at(-1)?.errorCode, body.code);
  });

  it('refuses bad paths, too many or too large files and bodies that are not JSON (400)', async () => {
    const ok = { 'policies.cedar': CANDIDATE };
    const cases: [string, unknown, string, string | null][] = [
      ['/v1/policy/validate', { files: { '../policies.cedar': CANDIDATE } }, 'invalid_body', 'files'],
      ['/v1/policy/validate', { files: { 'a/../b.cedar': CANDIDATE } }, 'invalid_body', 'files'],
      ['/v1/policy/validate', { files: { './policies.cedar': CANDIDATE } }, 'invalid_body', 'files'],
      ['/v1/policy/validate', { files: { '/etc/policies.cedar': CANDIDATE } }, 'invalid_body', 'files'],
      ['/v1/policy/validate', { files: { 'a\\b.cedar': CANDIDATE } }, 'invalid_body', 'files'],
      ['/v1/policy/validate', { files: { 'a b.cedar': CANDIDATE } }, 'invalid_body', 'files'],
      ['/v1/policy/validate', { files: { 'a//b.cedar': CANDIDATE } }, 'invalid_body', 'files'],
      ['/v1/policy/validate', { files: { 'notes.txt': 'hi' } }, 'invalid_body', 'files'],
      ['/v1/policy/validate', { files: { 'policies.cedar': 42 } }, 'invalid_body', 'files'],
      ['/v1/policy/validate', { files: [CANDIDATE] }, 'invalid_body', 'files'],
      ['/v1/policy/validate', { files: 'policies.cedar' }, 'invalid_body', 'files'],
      ['/v1/policy/validate', {}, 'invalid_body', 'files'],
      ['/v1/policy/validate', [], 'invalid_body', null],
      ['/v1/policy/validate', { files: ok, extra: 1 }, 'invalid_body', 'extra'],
      [
        '/v1/policy/validate',
        { files: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`p${i}.cedar`, ''])) },
        'invalid_body',
        'files',
      ],
      [
        '/v1/policy/validate',
        {
          files: {
            'a.cedar': 'x'.repeat(MAX_CANDIDATE_BYTES / 2),
            'b.cedar': 'y'.repeat(MAX_CANDIDATE_BYTES / 2 + 1),
          },
        },
        'invalid_body',
        'files',
      ],
      ['/v1/policy/simulate', { files: ok, limit: 0 }, 'invalid_body', 'limit'],
      ['/v1/policy/simulate', { files: ok, limit: 10001 }, 'invalid_body', 'limit'],
      ['/v1/policy/simulate', { files: ok, limit: '5' }, 'invalid_body', 'limit'],
      ['/v1/policy/simulate', { files: ok, limit: 1.5 }, 'invalid_body', 'limit'],
      ['/v1/policy/simulate', { files: ok, since: 'yesterday' }, 'invalid_body', 'since'],
      ['/v1/policy/simulate', { files: ok, since: '2024-13-45T99:00:00Z' }, 'invalid_body', 'since'],
      ['/v1/policy/simulate', { files: ok, examples: 3 }, 'invalid_body', 'examples'],
      ['/v1/policy/simulate', '{"files": ', 'invalid_json', null],
      ['/v1/policy/validate', 'not json', 'invalid_json', null],
    ];
    for (const [path, body, code, param] of cases) {
      const res = await post(path, body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body).slice(0, 80)}: ${res.body}`);
      const parsed = documented(path, res) as { error: { code: string; param: string | null } };
      assert.deepEqual(
        [parsed.error.code, parsed.error.param],
        [code, param],
        JSON.stringify(body).slice(0, 80),
      );
      if (typeof body === 'object' && code === 'invalid_body' && !Array.isArray(body))
        assert.ok(
          !requestMatches(path, body) || param === 'files',
          `the document refuses it too: ${res.body}`,
        );
    }
    // The exact limit is accepted: 256 KiB of contents.
    const full = await post('/v1/policy/validate', {
      files: {
        'policies.cedar': CANDIDATE,
        'big.cedar': `// ${'z'.repeat(MAX_CANDIDATE_BYTES - CANDIDATE.length - 3)}`,
      },
    });
    assert.equal(documented('/v1/policy/validate', full).ok, true, full.body);
    // A body beyond the route's body limit, and one that is not JSON at all.
    const huge = await post('/v1/policy/validate', { files: { 'a.cedar': 'x'.repeat(1100 * 1024) } });
    assert.equal(huge.statusCode, 413);
    assert.equal(
      (documented('/v1/policy/validate', huge) as { error: { code: string } }).error.code,
      'body_too_large',
    );
    const xml = await post('/v1/policy/validate', '<files/>', 'ada', 'application/xml');
    assert.equal(xml.statusCode, 415);
    documented('/v1/policy/validate', xml);
    assert.deepEqual(errors, [], 'no unexpected failures');
  });

  it('refuses callers the authorizer refuses (403) or cannot identify (401), before reading the body', async () => {
    const before = (await store.audit.list({ phase: 'control', limit: 1000 })).length;
    for (const path of ['/v1/policy/validate', '/v1/policy/simulate']) {
      const denied = await post(path, { files: { 'policies.cedar': CANDIDATE } }, 'mallory');
      assert.equal(denied.statusCode, 403, denied.body);
      const body = documented(path, denied) as { error: { code: string } };
      assert.equal(body.error.code, 'admin_forbidden');
      // Not even parsed: a body that is not JSON is refused for the caller, not the body.
      const notJson = await post(path, 'not json', 'mallory');
      assert.equal(notJson.statusCode, 403);
      const anonymous = await post(path, { files: {} }, '');
      assert.equal(anonymous.statusCode, 401);
      assert.equal(
        (documented(path, anonymous) as { error: { code: string } }).error.code,
        'admin_unauthenticated',
      );
    }
    assert.equal(
      (await store.audit.list({ phase: 'control', limit: 1000 })).length,
      before,
      'nothing recorded',
    );
  });
});
