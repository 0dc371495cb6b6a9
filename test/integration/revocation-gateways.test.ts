// Revocation across two gateway processes on one PostgreSQL store and one Redis bus (both
// required: this test fails, never skips, without them). A subject revoked with `ztgate revoke`
// is refused by the other gateway within one second, and the revocation is an audit row.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { readDemoClient, requestDemoToken } from '../../src/demo/index.js';
import { createStore } from '../../src/store/index.js';
import { PG_URL } from '../helpers/pg-spaces.js';
import { dropPrefix, REDIS_URL } from '../helpers/redis-prefix.js';

const BIN = fileURLToPath(new URL('../../bin/ztgate.js', import.meta.url));

function started(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${out}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /ztgate listening on (http:\/\/[^\s]+)/.exec(out)?.[1];
      if (url && /admin/.test(out)) {
        clearTimeout(timer);
        resolve(url);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited ${code}:\n${out}`));
    });
  });
}

describe('revocation across two gateway processes (PostgreSQL + Redis)', () => {
  const schema = `ztgate_revoke_${randomBytes(4).toString('hex')}`;
  const prefix = `ztgate-revoke-${randomBytes(4).toString('hex')}:`;
  const shared = `store: { url: "${PG_URL}", schema: ${schema} }\nbus: { url: "${REDIS_URL}", keyPrefix: "${prefix}" }\n`;
  const homes: string[] = [];
  const children: ChildProcessWithoutNullStreams[] = [];
  let urlA: string;
  let urlB: string;
  let issuer: string;
  let token: string;

  const up = async (home: string, yaml: string, demo: boolean): Promise<string> => {
    await writeFile(join(home, 'ztgate.yaml'), yaml);
    const args = [BIN, 'up', '--home', home, '--port', '0', '--admin-port', '0', ...(demo ? ['--demo'] : [])];
    const child = spawn(process.execPath, args, {
      env: {
        ...process.env,
        ZTGATE_DEMO_ISSUER_PORT: '0',
        ZTGATE_DEMO_MODEL_PORT: '0',
        ZTGATE_LOG_LEVEL: 'warn',
      },
    });
    children.push(child);
    return started(child);
  };

  before(async () => {
    for (let i = 0; i < 2; i++) homes.push(await mkdtemp(join(tmpdir(), 'ztgate-revoke-gw-')));
    const [homeA, homeB] = homes as [string, string];
    urlA = await up(homeA, shared, true);
    const run = JSON.parse(spawnSync('cat', [join(homeA, 'run.json')], { encoding: 'utf8' }).stdout) as {
      demoIssuer: string;
      demoModel: string;
    };
    issuer = run.demoIssuer;
    urlB = await up(
      homeB,
      `${shared}identity:\n  issuers:\n    - { issuer: "${issuer}", audience: ztgate, algorithms: [ES256] }\n` +
        `upstreams:\n  model: { kind: openai-compatible, baseUrl: "${run.demoModel}" }\n` +
        `models:\n  - { id: demo, upstream: model, upstreamModel: demo-echo }\n`,
      false,
    );
    const client = await readDemoClient(homeA);
    token = (
      await requestDemoToken({
        issuer,
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        user: 'mallory',
      })
    ).accessToken;
  });

  after(async () => {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map(
        (c) => new Promise((resolve) => (c.exitCode !== null ? resolve(0) : c.once('exit', resolve))),
      ),
    );
    for (const home of homes) await rm(home, { recursive: true, force: true });
    await dropPrefix(prefix);
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`drop schema if exists ${schema} cascade`);
    await admin.end();
  });

  const ask = async (url: string): Promise<number> => {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.body?.cancel();
    return res.status;
  };

  it('a subject revoked with `ztgate revoke` is refused by both gateways within 1 s, and audited', async () => {
    assert.equal(await ask(urlA), 200);
    assert.equal(await ask(urlB), 200, 'B serves the token (and caches it)');
    const subject = `${issuer}#mallory`;
    const revoke = spawnSync(
      process.execPath,
      [BIN, 'revoke', 'subject', subject, '--reason', 'incident 42', '--home', homes[0] as string],
      { encoding: 'utf8', env: { ...process.env, ZTGATE_LOG_LEVEL: 'warn' } },
    );
    assert.equal(revoke.status, 0, revoke.stderr);
    const revokedAt = Date.now();
    let statusB = 200;
    while (Date.now() - revokedAt < 1000 && statusB !== 401) statusB = await ask(urlB);
    assert.equal(statusB, 401, 'B refuses the revoked subject within 1 s of the revocation');
    assert.equal(await ask(urlA), 401);

    const store = await createStore({ url: PG_URL, home: homes[0] as string, schema });
    try {
      const rows = (await store.audit.list({ limit: 1000 })).map((r) => r.entry);
      const row = rows.find((e) => e.action === 'revoke.subject');
      assert.ok(row, 'the revocation is an audit row');
      assert.equal(row.target, `subject:${subject}`);
      assert.match(row.principalId ?? '', /^cli:/);
    } finally {
      await store.close();
    }
  });
});
