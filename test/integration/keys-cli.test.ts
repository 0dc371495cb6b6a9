import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createStore } from '../../src/store/index.js';
import { verifyWithPublicKey } from '../../src/keys/index.js';

const BIN = fileURLToPath(new URL('../../bin/ztgate.js', import.meta.url));

function ztgate(home: string, args: string[], input?: string) {
  const result = spawnSync(process.execPath, [BIN, ...args, '--home', home], {
    encoding: 'utf8',
    ...(input === undefined ? {} : { input }),
    env: { ...process.env, ZTGATE_MASTER_KEY: '' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('ztgate keys and ztgate secret', () => {
  let home: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'ztgate-keys-cli-'));
  });
  after(() => rm(home, { recursive: true, force: true }));

  it('creates, lists, rotates, exports, disables, enables and destroys keys, auditing each', async () => {
    let r = ztgate(home, ['keys', 'create', 'ledger-signing', '--algorithm', 'ed25519']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /ledger-signing\ted25519\tprimary ledger-signing@1\t1:active/);
    r = ztgate(home, ['keys', 'rotate', 'ledger-signing']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /primary ledger-signing@2\t1:active 2:active/);
    r = ztgate(home, ['keys', 'export-public', 'ledger-signing@1', '--format', 'jwk']);
    assert.equal(r.status, 0, r.stderr);
    const jwk = JSON.parse(r.stdout) as Record<string, string>;
    assert.equal(jwk.kid, 'ledger-signing@1');
    assert.equal(jwk.d, undefined, 'no private part');
    createPublicKey({ key: jwk, format: 'jwk' });
    r = ztgate(home, ['keys', 'export-public', 'ledger-signing']);
    assert.match(r.stdout, /^-----BEGIN PUBLIC KEY-----/);
    assert.ok(
      verifyWithPublicKey('ed25519', createPublicKey(r.stdout), Buffer.from('x'), Buffer.alloc(64)) === false,
    );
    r = ztgate(home, ['keys', 'disable', 'ledger-signing@1']);
    assert.match(r.stdout, /1:disabled 2:active/);
    r = ztgate(home, ['keys', 'enable', 'ledger-signing@1']);
    assert.match(r.stdout, /1:active 2:active/);
    r = ztgate(home, ['keys', 'destroy', 'ledger-signing@1']);
    assert.equal(r.status, 2, 'destroy without --yes is a usage error');
    assert.match(r.stderr, /irreversible/);
    r = ztgate(home, ['keys', 'destroy', 'ledger-signing@1', '--yes']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /destroyed ledger-signing@1; 0 stored object\(s\) under it are now unreadable/);
    r = ztgate(home, ['keys', 'export-public', 'ledger-signing@1']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /key_destroyed: key ledger-signing@1 was destroyed/);
    r = ztgate(home, ['keys', 'disable', 'ledger-signing@2']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unsupported_operation: .*primary/);
    r = ztgate(home, ['keys', 'list', '--json']);
    const listed = JSON.parse(r.stdout) as { name: string; versions: { state: string }[] }[];
    assert.deepEqual(
      listed.find((k) => k.name === 'ledger-signing')?.versions.map((v) => v.state),
      ['destroyed', 'active'],
    );

    const store = await createStore({ url: 'sqlite:ztgate.db', home });
    try {
      const rows = (await store.audit.list()).map((r) => r.entry).filter((e) => e.phase === 'control');
      const seen = rows.map(
        (e) => `${e.action} ${e.target} ${e.status}${e.errorCode ? ` ${e.errorCode}` : ''}`,
      );
      assert.deepEqual(seen, [
        'keys.create key:ledger-signing@1 200',
        'keys.rotate key:ledger-signing@2 200',
        'keys.export_public key:ledger-signing@1 200',
        'keys.export_public key:ledger-signing@2 200',
        'keys.disable key:ledger-signing@1 200',
        'keys.enable key:ledger-signing@1 200',
        'keys.destroy key:ledger-signing@1 200',
        'keys.export_public key:ledger-signing@1 500 key_destroyed',
        'keys.disable key:ledger-signing@2 500 unsupported_operation',
      ]);
      for (const row of rows) {
        assert.match(row.principalId ?? '', /^cli:.+@.+/);
        assert.equal(row.authMethod, 'cli');
      }
    } finally {
      await store.close();
    }
  });

  it('seals a secret read from standard input and re-wraps sealed values in ztgate.yaml after rotation', async () => {
    const secret = 'sk-cli-SEALED-0123456789abcdef';
    let r = ztgate(home, ['secret', 'seal', '--for', 'upstreams.x.apiKey'], `${secret}\n`);
    assert.equal(r.status, 0, r.stderr);
    const ref = r.stdout.trim();
    assert.match(ref, /^sealed:config-secrets@1:/);
    assert.ok(!ref.includes(secret));
    const config = join(home, 'ztgate.yaml');
    const original = await readFile(config, 'utf8');
    await writeFile(
      config,
      `${original}\n# our upstream\nupstreams:\n  x:\n    kind: openai-compatible\n    baseUrl: https://x.example/v1\n    apiKey: ${ref} # sealed\nmodels: [{ id: m, upstream: x, upstreamModel: m }]\n`,
    );
    assert.equal(ztgate(home, ['keys', 'rotate', 'config-secrets']).status, 0);
    r = ztgate(home, ['secret', 'rewrap']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /1 of 1 sealed value\(s\) re-wrapped/);
    const rewritten = await readFile(config, 'utf8');
    assert.match(rewritten, /apiKey: sealed:config-secrets@2:[A-Za-z0-9_-]+ # sealed/);
    assert.match(rewritten, /# our upstream/, 'comments are kept');
    // v1 can now go: the config still opens because its value is under v2.
    assert.equal(ztgate(home, ['keys', 'destroy', 'config-secrets@1', '--yes']).status, 0);
    r = ztgate(home, ['config', 'show']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!r.stdout.includes(secret));
    r = ztgate(home, ['secret', 'seal'], '');
    assert.equal(r.status, 2);
  });

  it('refuses a master key file that others can read, saying why', async () => {
    await chmod(join(home, 'keys', 'master.key'), 0o644);
    const r = ztgate(home, ['keys', 'list']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /keystore_insecure: .*master\.key is readable or writable by others.*chmod 600/);
    const up = ztgate(home, ['up', '--port', '0', '--admin-port', '0']);
    assert.equal(up.status, 1, 'the gateway refuses to start');
    assert.match(up.stderr, /master\.key is readable or writable by others/);
    await chmod(join(home, 'keys', 'master.key'), 0o600);
    assert.equal(ztgate(home, ['keys', 'list']).status, 0);
  });
});
