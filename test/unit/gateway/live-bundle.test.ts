// The running bundle of one role with real bundle directories: a reload replaces it, leaves it
// (unchanged) or is refused (the running bundle keeps serving); reloads are serialised. The
// shadow recorder's bounded ring, and how two decisions are compared.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Decision } from '../../../src/core/index.js';
import {
  acceptBundle,
  BundleRefused,
  LiveBundle,
  type BundleChecks,
} from '../../../src/gateway/live-bundle.js';
import { ShadowRecorder } from '../../../src/gateway/policy-shadow.js';
import { KeyManager } from '../../../src/keys/index.js';
import { createLocalProvider } from '../../../src/keys/providers/local.js';
import { classifyChange, type DecisionChange } from '../../../src/policy/decision-change.js';
import { loadBundle } from '../../../src/policy/index.js';
import { input } from '../policy/helpers.js';

const DEFAULT_BUNDLE = fileURLToPath(new URL('../../../examples/policies/default', import.meta.url));
const FORBID_DEMO = '\n@id("forbid-demo")\nforbid (principal, action, resource == Ztgate::Model::"demo");\n';

describe('LiveBundle', () => {
  let root: string;
  let checks: BundleChecks;
  let keys: KeyManager;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ztgate-live-bundle-'));
    await mkdir(join(root, 'keys'), { mode: 0o700 });
    keys = new KeyManager({
      provider: await createLocalProvider({
        dir: join(root, 'keys'),
        env: { ZTGATE_MASTER_KEY: randomBytes(32).toString('base64') },
      }),
      cache: { maxAgeMs: 1000, maxUses: 1, maxBytes: 1, maxEntries: 0 },
    });
    checks = { requireSigned: false, signingKeys: [], keys };
  });
  after(async () => {
    await keys.close();
    await rm(root, { recursive: true, force: true });
  });

  let n = 0;
  const copy = async (): Promise<string> => {
    const dir = join(root, `bundle-${++n}`);
    await cp(DEFAULT_BUNDLE, dir, { recursive: true });
    return dir;
  };
  const append = async (dir: string, text: string) =>
    writeFile(join(dir, 'policies.cedar'), (await readFile(join(dir, 'policies.cedar'), 'utf8')) + text);

  it('acceptBundle: a good bundle with its test counts; refusal codes for a bad one', async () => {
    const dir = await copy();
    const accepted = await acceptBundle(dir, false, checks);
    assert.equal(accepted.bundle.digest, (await loadBundle(dir)).digest);
    assert.equal(accepted.dir, dir);
    assert.equal(accepted.builtin, false);
    assert.equal(accepted.signedBy, null);
    assert.ok(accepted.tests.passed > 0);
    assert.equal(accepted.tests.failed, 0);

    await writeFile(join(dir, 'policies.cedar'), 'permit (principal, action');
    await assert.rejects(acceptBundle(dir, false, checks), (err: unknown) => {
      assert.ok(err instanceof BundleRefused);
      assert.equal(err.code, 'policy.parse_failed');
      return true;
    });

    const failing = await copy();
    // The default bundle's own tests expect a chat on llama-onprem to be allowed.
    await append(
      failing,
      '\n@id("forbid-all-chat")\nforbid (principal, action == Ztgate::Action::"chat", resource);\n',
    );
    await assert.rejects(acceptBundle(failing, false, checks), (err: unknown) => {
      assert.ok(err instanceof BundleRefused);
      assert.equal(err.code, 'policy.tests_failed');
      return true;
    });

    await assert.rejects(acceptBundle(join(root, 'nope'), false, checks), (err: unknown) => {
      assert.ok(err instanceof BundleRefused);
      assert.match(err.code, /^policy\./);
      return true;
    });
  });

  it('requireSigned: an unsigned bundle is refused', async () => {
    const dir = await copy();
    await assert.rejects(
      acceptBundle(dir, false, { ...checks, requireSigned: true }),
      (err: unknown) => err instanceof BundleRefused && err.code === 'policy.signature_missing',
    );
  });

  it('reload: unchanged, replaced, rejected (the running bundle keeps serving)', async () => {
    const dir = await copy();
    const live = new LiveBundle(await acceptBundle(dir, false, checks), checks);
    const first = live.bundle.digest;
    // (Read through a function: an assertion on the getter would narrow it for good.)
    const last = () => live.lastReload;
    assert.equal(last(), null);

    assert.deepEqual(await live.reload('admin'), { outcome: 'unchanged', digest: first });
    assert.equal(last()?.outcome, 'unchanged');
    assert.equal(last()?.trigger, 'admin');
    assert.equal(last()?.code, null);

    await rm(join(dir, 'tests'), { recursive: true });
    await append(dir, FORBID_DEMO);
    const second = (await loadBundle(dir)).digest;
    assert.notEqual(second, first);
    const replaced = await live.reload('watch');
    assert.deepEqual(replaced, { outcome: 'replaced', digest: second, previousDigest: first });
    assert.equal(live.bundle.digest, second);
    assert.ok(live.bundle.policyIds.includes('forbid-demo'));
    assert.equal(live.current.tests.passed, 0);
    assert.equal(last()?.outcome, 'replaced');

    await writeFile(join(dir, 'policies.cedar'), 'this is not cedar');
    const rejected = await live.reload('signal');
    assert.equal(rejected.outcome, 'rejected');
    assert.equal(rejected.outcome === 'rejected' && rejected.code, 'policy.parse_failed');
    assert.equal(rejected.digest, second, 'a refusal names the bundle that keeps serving');
    assert.equal(live.bundle.digest, second);
    assert.deepEqual(
      { outcome: last()?.outcome, trigger: last()?.trigger, code: last()?.code },
      { outcome: 'rejected', trigger: 'signal', code: 'policy.parse_failed' },
    );

    // A candidate whose own test cases fail is refused too.
    await cp(join(DEFAULT_BUNDLE, 'policies.cedar'), join(dir, 'policies.cedar'));
    await mkdir(join(dir, 'tests'));
    await writeFile(
      join(dir, 'tests', 'demo.json'),
      JSON.stringify([
        {
          name: 'demo is forbidden',
          principal: { id: 'idp#alice' },
          action: 'chat',
          resource: { type: 'Model', id: 'llama-onprem' },
          expect: { effect: 'deny' },
        },
      ]),
    );
    const failed = await live.reload('admin');
    assert.equal(failed.outcome === 'rejected' && failed.code, 'policy.tests_failed');
    assert.equal(live.bundle.digest, second);

    // Fixed: the next reload replaces it.
    await rm(join(dir, 'tests'), { recursive: true });
    const fixed = await live.reload('admin');
    assert.equal(fixed.outcome, 'replaced');
    assert.equal(fixed.outcome === 'replaced' && fixed.previousDigest, second);
  });

  it('serialises concurrent reloads: one replaces, the next sees it and is unchanged', async () => {
    const dir = await copy();
    const live = new LiveBundle(await acceptBundle(dir, false, checks), checks);
    const first = live.bundle.digest;
    await rm(join(dir, 'tests'), { recursive: true });
    await append(dir, FORBID_DEMO);
    const results = await Promise.all([live.reload('watch'), live.reload('admin'), live.reload('signal')]);
    assert.deepEqual(
      results.map((r) => r.outcome),
      ['replaced', 'unchanged', 'unchanged'],
    );
    assert.equal(results[0]?.outcome === 'replaced' && results[0].previousDigest, first);
    assert.equal(live.lastReload?.trigger, 'signal');

    // A refused reload in the queue does not stop the ones after it.
    await writeFile(join(dir, 'policies.cedar'), 'permit (');
    const p1 = live.reload('watch');
    const p2 = live.reload('admin');
    assert.equal((await p1).outcome, 'rejected');
    assert.equal((await p2).outcome, 'rejected');
    assert.equal(live.bundle.digest, results[0]?.digest);
  });
});

describe('ShadowRecorder', () => {
  const decision = (
    effect: Decision['effect'],
    policies: string[] = [],
    obligations: string[] = [],
  ): Decision => ({
    effect,
    determiningPolicies: policies,
    obligations: obligations.map((o) => {
      const [kind, value] = o.split(':') as [string, string];
      return { kind, value } as Decision['obligations'][number];
    }),
    errors: [],
    bundleDigest: `sha256:${effect}`,
  });

  it('keeps the newest differences first, at most `capacity`, and observes every comparison', () => {
    const observed: DecisionChange[] = [];
    const told: string[] = [];
    const recorder = new ShadowRecorder(
      3,
      (c) => observed.push(c),
      (d) => told.push(d.requestId),
    );
    assert.equal(recorder.compare('same-1', input(), decision('allow'), decision('allow')), 'same');
    for (let i = 1; i <= 5; i++)
      assert.equal(
        recorder.compare(`r${i}`, input(), decision('allow', ['p']), decision('deny', ['forbid-x'])),
        'allow_to_deny',
      );
    assert.equal(
      recorder.compare('r6', input(), decision('deny'), decision('allow', ['q'])),
      'deny_to_allow',
    );
    assert.deepEqual(observed, ['same', ...Array<DecisionChange>(5).fill('allow_to_deny'), 'deny_to_allow']);
    assert.deepEqual(told, ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'], 'a same decision is not a difference');

    const list = recorder.list(10);
    assert.deepEqual(
      list.map((d) => d.requestId),
      ['r6', 'r5', 'r4'],
    );
    assert.deepEqual(
      recorder.list(2).map((d) => d.requestId),
      ['r6', 'r5'],
    );
    const r5 = list[1];
    assert.equal(r5?.change, 'allow_to_deny');
    assert.equal(r5?.principalId, 'idp#alice');
    assert.equal(r5?.action, 'chat');
    assert.equal(r5?.resource, 'Model::local');
    assert.equal(r5?.live.effect, 'allow');
    assert.deepEqual(r5?.live.determiningPolicies, ['p']);
    assert.equal(r5?.shadow.effect, 'deny');
    assert.deepEqual(r5?.shadow.determiningPolicies, ['forbid-x']);
    assert.equal(r5?.shadow.bundleDigest, 'sha256:deny');

    recorder.clear();
    assert.deepEqual(recorder.list(10), []);
  });

  it('records obligation changes between two allows', () => {
    const recorder = new ShadowRecorder(
      10,
      () => undefined,
      () => undefined,
    );
    const change = recorder.compare(
      'o1',
      input({ principal: undefined }),
      decision('allow', ['a'], []),
      decision('allow', ['a', 'cap'], ['max_tokens:1024']),
    );
    assert.equal(change, 'obligations_changed');
    const [d] = recorder.list(1);
    assert.equal(d?.principalId, null);
    assert.deepEqual(d?.shadow.obligations, ['max_tokens:1024']);
    assert.deepEqual(d?.live.obligations, []);
  });
});

describe('classifyChange', () => {
  const d = (effect: Decision['effect'], obligations: [string, string][] = []) => ({
    effect,
    obligations: obligations.map(([kind, value]) => ({ kind, value }) as Decision['obligations'][number]),
  });
  it('effects first, then the obligation sets of two allows (order does not matter)', () => {
    assert.equal(classifyChange(d('allow'), d('allow')), 'same');
    assert.equal(classifyChange(d('deny'), d('deny')), 'same');
    assert.equal(classifyChange(d('allow'), d('deny')), 'allow_to_deny');
    assert.equal(classifyChange(d('deny'), d('allow')), 'deny_to_allow');
    assert.equal(
      classifyChange(
        d('allow', [
          ['max_tokens', '1024'],
          ['redact', 'pii'],
        ]),
        d('allow', [
          ['redact', 'pii'],
          ['max_tokens', '1024'],
        ]),
      ),
      'same',
    );
    assert.equal(
      classifyChange(d('allow', [['max_tokens', '1024']]), d('allow', [['max_tokens', '512']])),
      'obligations_changed',
    );
    assert.equal(classifyChange(d('allow'), d('allow', [['max_tokens', '1024']])), 'obligations_changed');
    // Obligations of two denies are not compared: nothing is served either way.
    assert.equal(classifyChange(d('deny', [['max_tokens', '1']]), d('deny')), 'same');
  });
});
