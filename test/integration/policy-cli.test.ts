import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadBundle } from '../../src/policy/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/ztgate.js');
const BANK = join(ROOT, 'examples/policies/bank-copilot');

function ztgate(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8' });
  const lines = r.stdout.trimEnd().split('\n');
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, last: lines[lines.length - 1] ?? '' };
}

/** `ztgate policy test|lint|digest` through the built command (npm run build first). */
describe('ztgate policy', () => {
  let work: string;
  before(async () => {
    if (!existsSync(join(ROOT, 'dist/cli/policy.js'))) {
      const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(build.status, 0, build.stdout + build.stderr);
    }
    work = await mkdtemp(join(tmpdir(), 'ztgate-policy-cli-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('test: a good bundle passes every case', async () => {
    const cases = (await loadBundle(BANK)).tests.length;
    const r = ztgate(['policy', 'test', '--bundle', BANK]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(r.last, `${cases} passed, 0 failed`);
  });

  it('test: defaults to examples/policies/default', () => {
    const r = ztgate(['policy', 'test']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.last, /^\d+ passed, 0 failed$/);
  });

  it('test: one flipped expectation fails with exit 1 and is printed', async () => {
    const dir = join(work, 'flipped');
    await cp(BANK, dir, { recursive: true });
    const file = join(dir, 'tests/risk.json');
    const cases = JSON.parse(await readFile(file, 'utf8')) as {
      name: string;
      expect: { effect: string; obligations?: string[]; determiningPolicies?: string[] };
    }[];
    const victim = cases.find((c) => c.name === 'risk 70 is denied');
    assert.ok(victim);
    victim.expect = { effect: 'allow' };
    await writeFile(file, JSON.stringify(cases, null, 2));
    const total = (await loadBundle(dir)).tests.length;
    const r = ztgate(['policy', 'test', '--bundle', dir]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.equal(r.last, `${total - 1} passed, 1 failed`);
    assert.match(r.stdout, /FAIL risk 70 is denied/);
    assert.match(r.stdout, /expected: .*"effect":"allow"/);
    assert.match(r.stdout, /got: .*"effect":"deny".*forbid-high-risk/);
  });

  it('test, lint and digest: a broken bundle exits 2 with its error code', async () => {
    const dir = join(work, 'broken');
    await cp(BANK, dir, { recursive: true });
    await writeFile(
      join(dir, 'extra.cedar'),
      '@id("oops")\npermit (principal, action, resource) when { };\n',
    );
    for (const sub of ['test', 'lint', 'digest']) {
      const r = ztgate(['policy', sub, '--bundle', dir]);
      assert.equal(r.status, 2, `${sub}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /policy\.parse_failed/);
    }
    const bad = join(work, 'bad-obligation');
    await cp(BANK, bad, { recursive: true });
    await writeFile(
      join(bad, 'extra.cedar'),
      '@id("extra")\n@obligation("teleport:mars")\npermit (principal, action, resource) when { false };\n',
    );
    const r = ztgate(['policy', 'test', '--bundle', bad]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /policy\.obligation_invalid/);
    const missing = ztgate(['policy', 'test', '--bundle', join(work, 'nope')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /policy\.bundle_unreadable/);
  });

  it('lint: the shipped bundles are clean', () => {
    for (const name of ['default', 'bank-copilot', 'hospital-assistant', 'code-copilot']) {
      const r = ztgate(['policy', 'lint', '--bundle', join(ROOT, 'examples/policies', name)]);
      assert.equal(r.status, 0, `${name}: ${r.stdout}${r.stderr}`);
      assert.match(r.last, /policies, 0 finding\(s\)$/);
    }
  });

  it('lint: reports a permit shadowed by an unconditional forbid, and impossible policies', async () => {
    const dir = join(work, 'shadowed');
    await cp(BANK, dir, { recursive: true });
    await writeFile(
      join(dir, 'freeze.cedar'),
      [
        '// An incident freeze: nobody reads the audit log; this makes allow-compliance-audit dead.',
        '@id("freeze-audit")',
        'forbid (principal, action == Ztgate::Action::"view_audit", resource);',
        '',
        '// Scoped to Gateway but asks about chat: never applies.',
        '@id("chat-on-gateway")',
        'permit (principal, action == Ztgate::Action::"chat", resource is Ztgate::Gateway);',
        '',
        '// A conditional forbid shadows nothing.',
        '@id("night-freeze")',
        'forbid (principal, action, resource) when { context.time.hour < 6 };',
        '',
      ].join('\n'),
    );
    const r = ztgate(['policy', 'lint', '--bundle', dir]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /^allow-compliance-audit: permit is shadowed by unconditional forbid "freeze-audit"$/m,
    );
    assert.match(r.stdout, /^chat-on-gateway: /m);
    assert.doesNotMatch(r.stdout, /^allow-onprem:/m);
    assert.doesNotMatch(r.stdout, /night-freeze/);
  });

  it('digest: prints the bundle digest', async () => {
    const r = ztgate(['policy', 'digest', '--bundle', BANK]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${(await loadBundle(BANK)).digest}\n`);
  });

  it('usage errors exit 2', () => {
    assert.equal(ztgate(['policy']).status, 2);
    assert.equal(ztgate(['policy', 'frobnicate']).status, 2);
    assert.equal(ztgate(['policy', 'test', '--bogus']).status, 2);
  });
});
