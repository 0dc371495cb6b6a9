import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decide, loadBundle, PolicyBundleError, runBundleTests, timeOf } from '../../src/policy/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const fixture = (name: string): string => join(ROOT, 'test/fixtures/policy', name);

async function refusedWith(dir: string, code: string): Promise<void> {
  await assert.rejects(
    loadBundle(dir),
    (err: unknown) => err instanceof PolicyBundleError && err.code === code,
  );
}

describe('policy bundles on disk', () => {
  it('the default example bundle passes its own tests', async () => {
    const bundle = await loadBundle(join(ROOT, 'examples/policies/default'));
    assert.ok(bundle.tests.length >= 10);
    const report = runBundleTests(bundle);
    assert.deepEqual(report.failed, []);
    assert.equal(report.passed, bundle.tests.length);
    assert.equal((await loadBundle(join(ROOT, 'examples/policies/default'))).digest, bundle.digest);
  });

  it('reports failing cases with what was expected and what came out', async () => {
    const bundle = await loadBundle(join(ROOT, 'examples/policies/default'));
    const [first] = bundle.tests;
    assert.ok(first);
    const report = runBundleTests(bundle, [{ ...first, name: 'wrong', expect: { effect: 'deny' } }]);
    assert.equal(report.passed, 0);
    assert.equal(report.failed[0]?.name, 'wrong');
    assert.equal(report.failed[0]?.got.effect, 'allow');
  });

  it('uses a bundle’s own schema when it ships one', async () => {
    const bundle = await loadBundle(fixture('own-schema'));
    assert.deepEqual(bundle.policyIds, ['anyone-chats']);
    // The shipped schema's context does not fit this schema: the request is refused, not allowed.
    const d = decide(
      {
        principal: { kind: 'user', id: 'u', roles: [], groups: [] },
        action: 'chat',
        resource: { type: 'Model', id: 'm' },
        findings: [],
        dataClass: 'public',
        risk: 0,
        networkZone: 'z',
        residency: 'eu',
        time: timeOf(Date.UTC(2026, 0, 7, 9)),
      },
      bundle,
      new Map([
        [
          'm',
          {
            provider: 'p',
            region: 'eu',
            runtimeKind: 'on_prem',
            attestationKind: 'none',
            attested: false,
            dataClasses: [],
          },
        ],
      ]),
    );
    assert.equal(d.effect, 'deny');
    assert.deepEqual(d.errors, ['policy.request_invalid']);
  });

  it('refuses empty, unreadable and invalid bundles with stable codes', async () => {
    await refusedWith(fixture('empty'), 'policy.bundle_empty');
    await refusedWith(fixture('bad-obligation'), 'policy.obligation_invalid');
    await refusedWith(fixture('does-not-exist'), 'policy.bundle_unreadable');
  });

  it('computes UTC time context', () => {
    assert.deepEqual(timeOf(Date.UTC(2026, 0, 7, 9, 30)), { hour: 9, weekday: 'wed' });
  });
});
