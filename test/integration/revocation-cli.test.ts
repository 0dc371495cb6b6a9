// `ztgate revoke …` end to end (through the TypeScript sources) against a running "gateway"
// (a RevocationList on the same Redis prefix). Redis at 127.0.0.1:6379 is required; when it is
// down these tests fail, they never skip.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { RevocationList, tokenHash, type RevocationQuery } from '../../src/identity/revocation-list.js';
import type { AuditEntry } from '../../src/core/index.js';
import { createBus, createStore, type StateBus } from '../../src/store/index.js';
import { dropPrefix, REDIS_URL } from '../helpers/redis-prefix.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const ENTRY = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(process.argv.slice(1));`;

function ztgate(home: string, args: string[], input?: string) {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', ENTRY, '--', ...args, '--home', home],
    { cwd: ROOT, encoding: 'utf8', input: input ?? '' },
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

async function seen(list: RevocationList, query: RevocationQuery): Promise<boolean> {
  const deadline = Date.now() + 1000;
  while (!list.isRevoked(query).revoked && Date.now() < deadline) await sleep(10);
  return list.isRevoked(query).revoked;
}

describe('ztgate revoke', () => {
  const keyPrefix = `ztgate-test-${randomBytes(4).toString('hex')}:`;
  let home: string;
  let memoryHome: string;
  let bus: StateBus;
  let gateway: RevocationList;

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'ztgate-revoke-cli-'));
    memoryHome = await mkdtemp(join(tmpdir(), 'ztgate-revoke-memory-'));
    await writeFile(
      join(home, 'ztgate.yaml'),
      `store:\n  url: sqlite:ztgate.db\nbus:\n  url: ${REDIS_URL}\n  keyPrefix: "${keyPrefix}"\n`,
    );
    bus = await createBus({ url: REDIS_URL, keyPrefix });
    gateway = new RevocationList({ bus, snapshotIntervalMs: 0 });
    await gateway.start();
  });

  after(async () => {
    await gateway?.close();
    await bus?.close();
    await dropPrefix(keyPrefix);
    await rm(home, { recursive: true, force: true });
    await rm(memoryHome, { recursive: true, force: true });
  });

  it('revokes every kind on the running gateway and audits each, never keeping a raw token', async () => {
    const token = `eyJhbGciOiJFUzI1NiJ9.${randomBytes(24).toString('base64url')}.sig-RAW-TOKEN`;
    const hash = tokenHash(token);
    const other = tokenHash('another token');
    const subject = 'https://idp.example/realms/corp#alice';
    let r = ztgate(home, ['revoke', 'subject', subject, '--reason', 'left the company', '--for', '1h']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^revoked subject:https:\/\/idp\.example\/realms\/corp#alice until \S+Z\n$/);
    const until = Date.parse(r.stdout.trim().split(' ').at(-1) as string);
    assert.ok(Math.abs(until - (Date.now() + 3_600_000)) < 60_000, 'revoked for about an hour');
    assert.ok(await seen(gateway, { subject }), 'the gateway refuses the subject within 1 s');

    r = ztgate(home, ['revoke', 'token'], `${token}\n`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      `revoked token:${hash.slice(0, 16)}… until ${r.stdout.trim().split(' ').at(-1)}\n`,
    );
    assert.ok(await seen(gateway, { tokenHash: hash }));

    const runs: [string[], RevocationQuery][] = [
      [['revoke', 'token', other], { tokenHash: other }],
      [['revoke', 'jti', 'jti-123'], { jti: 'jti-123' }],
      [['revoke', 'device', 'laptop-42'], { deviceId: 'laptop-42' }],
      [['revoke', 'session', 'sid-9'], { sessionId: 'sid-9' }],
      [['revoke', 'apikey', 'abcdefghijkl'], { apiKeyId: 'abcdefghijkl' }],
      [['revoke', 'certificate', '0A:1B:2C'], { certificateSerial: 'a1b2c' }],
    ];
    for (const [args, query] of runs) {
      r = ztgate(home, args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(await seen(gateway, query), args.join(' '));
    }

    const rows = await controlRows(home);
    assert.deepEqual(
      rows.map((e) => `${e.action} ${e.target} ${e.status}`),
      [
        `revoke.subject subject:${subject} 200`,
        `revoke.token token:${hash.slice(0, 16)}… 200`,
        `revoke.token token:${other.slice(0, 16)}… 200`,
        'revoke.jti jti:jti-123 200',
        'revoke.device device:laptop-42 200',
        'revoke.session session:sid-9 200',
        'revoke.apikey apikey:abcdefghijkl 200',
        'revoke.certificate certificate:a1b2c 200',
      ],
    );
    assert.deepEqual(rows[0]?.transformations, ['for:3600s', 'reason:left the company']);
    for (const row of rows) {
      assert.match(row.principalId ?? '', /^cli:.+@.+/);
      assert.equal(row.authMethod, 'cli');
    }
    // Neither the token nor its full hash is in the audit log; the token is nowhere on the bus.
    const audit = JSON.stringify(rows);
    assert.ok(!audit.includes(token) && !audit.includes('RAW-TOKEN') && !audit.includes(hash));
    const redis = new Redis(REDIS_URL);
    try {
      const keys = await redis.keys(`${keyPrefix}*`);
      const values = await Promise.all(
        keys.map(async (k) => ((await redis.type(k)) === 'string' ? redis.get(k) : '')),
      );
      assert.ok(
        values.some((v) => v?.includes(hash)),
        'the hash is what is shared',
      );
      assert.ok(!values.some((v) => v?.includes('RAW-TOKEN')), 'the raw token is not');
    } finally {
      redis.disconnect();
    }
  });

  it('refuses bad input as usage errors', () => {
    const cases: [string[], RegExp, string?][] = [
      [['revoke'], /expected: revoke token\|jti\|subject/],
      [['revoke', 'user', 'x'], /expected: revoke token\|jti\|subject/],
      [['revoke', 'subject'], /revoke subject needs a VALUE/],
      [['revoke', 'subject', 'a', 'b'], /expected one VALUE/],
      [['revoke', 'token', 'eyJraw.token.value'], /VALUE for token must be its SHA-256/],
      [['revoke', 'token'], /standard input is empty/, ''],
      [['revoke', 'apikey', 'NOT AN ID'], /value for apikey must be an API key id/],
      [['revoke', 'subject', 'x', '--for', '10x'], /--for must be a duration/],
      [['revoke', 'subject', 'x', '--for', '401d'], /--for must be at most 400d/],
      [['revoke', 'subject', 'x', '--reason', 'bell\u0007'], /reason must be printable text/],
    ];
    for (const [args, message, input] of cases) {
      const r = ztgate(home, args, input);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });

  it('with bus "memory:" it refuses, explains, and audits the attempt', async () => {
    const r = ztgate(memoryHome, ['revoke', 'subject', 'bob']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /bus_not_shared/);
    assert.match(r.stderr, /only the process\s+holding it sees/);
    assert.match(r.stderr, /POST \/admin\/revocations/);
    const rows = await controlRows(memoryHome);
    assert.deepEqual(
      rows.map((e) => `${e.action} ${e.target} ${e.status} ${e.errorCode}`),
      ['revoke.subject subject:bob 500 bus_not_shared'],
    );
  });
});
