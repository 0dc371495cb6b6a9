import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadBundle, runBundleTests } from '../../src/policy/index.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/policies/', import.meta.url));
const bundles = readdirSync(EXAMPLES)
  .filter((name) => statSync(join(EXAMPLES, name)).isDirectory())
  .sort();

/** Every shipped example bundle loads, and all of its own test cases pass. */
describe('shipped policy bundles (examples/policies)', () => {
  it('ships the default, bank, hospital and code bundles', () => {
    for (const name of ['default', 'bank-copilot', 'hospital-assistant', 'code-copilot'])
      assert.ok(bundles.includes(name), `examples/policies/${name} is missing`);
  });

  for (const name of bundles) {
    it(`${name}: loads and passes all its cases`, async () => {
      const bundle = await loadBundle(join(EXAMPLES, name));
      const min = name === 'default' ? 10 : 40;
      assert.ok(bundle.tests.length >= min, `${name} has ${bundle.tests.length} cases, want ≥ ${min}`);
      const report = runBundleTests(bundle);
      assert.deepEqual(
        report.failed.map((f) => ({ name: f.name, expected: f.expected, got: f.got })),
        [],
        `${name}: failing cases`,
      );
      assert.equal(report.passed, bundle.tests.length);
      // Every case has a unique name, and the bundle tests denials as well as allows.
      const names = bundle.tests.map((c) => c.name);
      assert.equal(new Set(names).size, names.length, `${name}: duplicate case names`);
      const effects = new Set(bundle.tests.map((c) => c.expect.effect));
      assert.deepEqual([...effects].sort(), ['allow', 'deny']);
      // Every policy that can determine an outcome is exercised by some case.
      if (name !== 'default') {
        const exercised = new Set(bundle.tests.flatMap((c) => c.expect.determiningPolicies ?? []));
        for (const id of bundle.policyIds) assert.ok(exercised.has(id), `${name}: no case names ${id}`);
      }
    });
  }
});
