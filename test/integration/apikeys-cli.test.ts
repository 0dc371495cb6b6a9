// `ztgate apikey …` end to end (through the TypeScript sources): create, list, revoke, expire,
// audit rows, and the secret shown once and never again. Redis at 127.0.0.1:6379 is required
// for the shared-bus case; when it is down that test fails, it never skips.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { verifyApiKey } from '../../src/identity/api-keys.js';
import { RevocationList } from '../../src/identity/revocation-list.js';
import type { AuditEntry } from '../../src/core/index.js';
import { createBus, createStore } from '../../src/store/index.js';
import { dropPrefix } from '../helpers/redis-prefix.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const ENTRY = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(process.argv.slice(1));`;

function ztgate(home: string, args: string[], input?: string) {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', ENTRY, '--', ...args, '--home', home],
    { cwd: ROOT, encoding: 'utf8', ...(input === undefined ? {} : { input }) },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function controlRows(home: string): Promise<AuditEntry[]> {
  const store = await createStore({ url: 'sqlite:ztgate.db', home });
  try {
    return (await store.audit.list({ limit: 1000 })).map((r) => r.entry).filter((e) => e.phase === 'control');
  } finally {
    await store.close();
  }
}

describe('ztgate apikey', () => {
  let home: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'ztgate-apikey-cli-'));
  });
  after(() => rm(home, { recursive: true, force: true }));

  it('creates, lists, revokes and expires keys, auditing each, and never shows a secret twice', async () => {
    let r = ztgate(home, [
      'apikey',
      'create',
      '--service',
      'billing',
      '--scope',
      'chat:write',
      '--expires',
      '90d',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const created = /^id\t([a-z2-7]{12})\nkey\t(ztk_[a-z2-7]{12}_[0-9A-Za-z]{43})\n$/.exec(r.stdout);
    assert.ok(created, r.stdout);
    const [, id, key] = created as unknown as [string, string, string];
    assert.ok(key.startsWith(`ztk_${id}_`));
    assert.match(r.stderr, /only time the key is shown/);
    const secret = key.slice(-43);

    r = ztgate(home, ['apikey', 'create', '--service', 'search', '--expires', '2999-01-01', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const second = JSON.parse(r.stdout) as { id: string; key: string; service: string; expiresAt: string };
    assert.equal(second.service, 'search');
    assert.equal(second.expiresAt, '2999-01-01T00:00:00.000Z');
    assert.ok(!('hash' in second));

    const store = await createStore({ url: 'sqlite:ztgate.db', home });
    try {
      const good = await verifyApiKey(key, store.apiKeys);
      assert.ok(good.ok && good.key.service === 'billing' && good.key.scopes.join() === 'chat:write');
    } finally {
      await store.close();
    }

    r = ztgate(home, ['apikey', 'list']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`^${id}\tbilling\tactive\tchat:write\tcreated \\S+\texpires \\S+\tlast used never$`, 'm'),
    );
    assert.match(r.stdout, new RegExp(`^${second.id}\tsearch\tactive\t-\t`, 'm'));
    const listed = r.stdout;
    r = ztgate(home, ['apikey', 'list', '--service', 'search', '--json']);
    const json = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.deepEqual(
      json.map((k) => [k.id, k.state]),
      [[second.id, 'active']],
    );
    assert.ok(json.every((k) => !('hash' in k) && !('key' in k)));
    const jsonListed = r.stdout;

    r = ztgate(home, ['apikey', 'revoke', id]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`^revoked ${id} \\(service billing\\); gateways sharing this store refuse it within`),
    );
    r = ztgate(home, ['apikey', 'expire', second.id]);
    assert.equal(r.status, 0, r.stderr);
    r = ztgate(home, ['apikey', 'list', '--json']);
    const states = Object.fromEntries(
      (JSON.parse(r.stdout) as { id: string; state: string }[]).map((k) => [k.id, k.state]),
    );
    assert.deepEqual(states, { [id]: 'revoked', [second.id]: 'expired' });

    r = ztgate(home, ['apikey', 'revoke', 'aaaaaaaaaaaa']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not_found: no API key aaaaaaaaaaaa/);

    const rows = await controlRows(home);
    assert.deepEqual(
      rows.map((e) => `${e.action} ${e.target} ${e.status}${e.errorCode ? ` ${e.errorCode}` : ''}`),
      [
        `apikey.create apikey:${id} 200`,
        `apikey.create apikey:${second.id} 200`,
        `apikey.revoke apikey:${id} 200`,
        `apikey.expire apikey:${second.id} 200`,
        'apikey.revoke apikey:aaaaaaaaaaaa 500 not_found',
      ],
    );
    for (const row of rows) {
      assert.match(row.principalId ?? '', /^cli:.+@.+/);
      assert.equal(row.authMethod, 'cli');
    }
    assert.ok(rows[0]?.transformations.includes('service:billing'));

    // The secret (and the stored hash) appears nowhere but the one create output.
    const everything = [JSON.stringify(rows), listed, jsonListed, r.stdout, r.stderr].join('\n');
    for (const secretPart of [key, secret, second.key, second.key.slice(-43), 's256:']) {
      assert.ok(!everything.includes(secretPart), 'no secret or hash in audit rows or list output');
    }
  });

  it('refuses bad input as usage errors before touching the store', () => {
    const cases: [string[], RegExp][] = [
      [['apikey', 'create'], /--service NAME is required/],
      [['apikey', 'create', '--service', 'Bad Name'], /--service NAME is required/],
      [['apikey', 'create', '--service', 'x', '--scope', 'a b'], /--scope must be/],
      [['apikey', 'create', '--service', 'x', '--expires', 'soon'], /--expires must be a duration/],
      [['apikey', 'create', '--service', 'x', '--expires', '2001-01-01'], /--expires must be in the future/],
      [['apikey', 'revoke'], /expected one API key ID/],
      [['apikey', 'revoke', 'ZZZ'], /ID must be an API key id/],
      [['apikey', 'rotate'], /expected: apikey create\|list\|revoke\|expire/],
    ];
    for (const [args, message] of cases) {
      const r = ztgate(home, args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });

  it('with a Redis bus, revoke and expire also reach running gateways through the revocation list', async () => {
    const redisHome = await mkdtemp(join(tmpdir(), 'ztgate-apikey-redis-'));
    const keyPrefix = `ztgate-test-${randomBytes(4).toString('hex')}:`;
    await writeFile(
      join(redisHome, 'ztgate.yaml'),
      `store:\n  url: sqlite:ztgate.db\nbus:\n  url: redis://127.0.0.1:6379\n  keyPrefix: "${keyPrefix}"\n`,
    );
    const bus = await createBus({ url: 'redis://127.0.0.1:6379', keyPrefix });
    const gateway = new RevocationList({ bus, snapshotIntervalMs: 0 });
    await gateway.start();
    try {
      let r = ztgate(redisHome, ['apikey', 'create', '--service', 'billing']);
      assert.equal(r.status, 0, r.stderr);
      const id = /^id\t(\S+)$/m.exec(r.stdout)?.[1] as string;
      assert.equal(gateway.isRevoked({ apiKeyId: id }).revoked, false);
      r = ztgate(redisHome, ['apikey', 'revoke', id]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /running gateways refuse it now/);
      const deadline = Date.now() + 1000;
      while (!gateway.isRevoked({ apiKeyId: id }).revoked && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.deepEqual(gateway.isRevoked({ apiKeyId: id }), { revoked: true, kind: 'apikey' });
    } finally {
      await gateway.close();
      await bus.close();
      await dropPrefix(keyPrefix);
      await rm(redisHome, { recursive: true, force: true });
    }
  });
});
