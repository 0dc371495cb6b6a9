import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadBundle } from '../../src/policy/bundle.js';
import { BUNDLE_SIGNATURE_FILE, verifyBundleSignature } from '../../src/policy/signing.js';
import { createStore } from '../../src/store/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/ztgate.js');
const DEFAULT = join(ROOT, 'examples/policies/default');

/** `ztgate policy sign|verify` through the built command (npm run build first). */
describe('ztgate policy sign and verify', () => {
  let home: string;
  let dir: string;
  const ztgate = (args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, ...args, '--home', home], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, ZTGATE_MASTER_KEY: '' },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  before(async () => {
    if (!existsSync(join(ROOT, 'dist/policy/signing.js'))) {
      const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(build.status, 0, build.stdout + build.stderr);
    }
    home = await mkdtemp(join(tmpdir(), 'ztgate-policy-signing-'));
    dir = join(home, 'bundle');
    await cp(DEFAULT, dir, { recursive: true });
  });
  after(() => rm(home, { recursive: true, force: true }));

  it('verify before signing: exit 1, signature_missing', () => {
    const r = ztgate(['policy', 'verify', '--bundle', dir]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /signature_missing/);
  });

  it('sign creates the ed25519 key, writes bundle.sig.json and audits; verify exits 0', async () => {
    const digest = (await loadBundle(dir)).digest;
    let r = ztgate(['policy', 'sign', '--bundle', dir]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.trim(), `signed ${digest} with policy-signing@1`);
    assert.ok(existsSync(join(dir, BUNDLE_SIGNATURE_FILE)));
    assert.equal((await loadBundle(dir)).digest, digest);

    r = ztgate(['keys', 'list']);
    assert.match(r.stdout, /policy-signing\ted25519\tprimary policy-signing@1/);

    r = ztgate(['policy', 'verify', '--bundle', dir]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^valid ${digest} signed by policy-signing@1 at `));

    const store = await createStore({ url: 'sqlite:ztgate.db', home });
    try {
      const rows = (await store.audit.list()).map((x) => x.entry).filter((e) => e.phase === 'control');
      const actions = rows.map((e) => e.action);
      assert.ok(actions.includes('keys.create'), actions.join(','));
      const signed = rows.find((e) => e.action === 'policy.sign');
      assert.ok(signed);
      assert.equal(signed.target, `bundle:${digest}`);
      assert.deepEqual(signed.transformations, ['key:policy-signing@1']);
    } finally {
      await store.close();
    }
  });

  it('offline: verifies with only the exported public key (PEM)', async () => {
    const r = ztgate(['keys', 'export-public', 'policy-signing', '--format', 'pem']);
    assert.equal(r.status, 0, r.stderr);
    const result = await verifyBundleSignature(dir, { 'policy-signing@1': r.stdout });
    assert.equal(result.valid, true, result.detail);
  });

  it('a tampered bundle or signature: exit 1 with the reason code', async () => {
    const sigFile = join(dir, BUNDLE_SIGNATURE_FILE);
    const original = await readFile(sigFile, 'utf8');
    const envelope = JSON.parse(original) as { signatures: { keyid: string; sig: string }[] };
    const sig = Buffer.from(envelope.signatures[0]?.sig ?? '', 'base64');
    sig[0] = (sig[0] as number) ^ 0x80;
    (envelope.signatures[0] as { sig: string }).sig = sig.toString('base64');
    await writeFile(sigFile, JSON.stringify(envelope));
    let r = ztgate(['policy', 'verify', '--bundle', dir]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /signature_invalid/);

    await writeFile(sigFile, original);
    const policy = join(dir, 'policies.cedar');
    await writeFile(policy, (await readFile(policy, 'utf8')) + '\n// edited after signing\n');
    r = ztgate(['policy', 'verify', '--bundle', dir]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /digest_mismatch/);

    r = ztgate(['policy', 'verify', '--bundle', dir, '--key', 'other-signing']);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /key_unknown/);

    // Signing again covers the edit.
    r = ztgate(['policy', 'sign', '--bundle', dir]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    r = ztgate(['policy', 'verify', '--bundle', dir]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('usage: sign needs --bundle; --key is only for sign and verify', () => {
    assert.equal(ztgate(['policy', 'sign']).status, 2);
    const r = spawnSync(process.execPath, [BIN, 'policy', 'digest', '--key', 'x'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 2, r.stdout + r.stderr);
  });
});
