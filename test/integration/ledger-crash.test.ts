// Crash safety of audit-before-release: a gateway process under sustained traffic is killed with
// SIGKILL; after a restart the ledger verifies, and every answer a client received (or every
// stream whose first byte it received) has its entry. Runs the built CLI (`npm run build`).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../../src/store/sqlite-store.js';

const BIN = fileURLToPath(new URL('../../bin/ztgate.js', import.meta.url));
const ENV = { ...process.env, ZTGATE_DEMO_ISSUER_PORT: '0', ZTGATE_DEMO_MODEL_PORT: '0' };

function startUp(home: string): { child: ChildProcessWithoutNullStreams; url: Promise<string> } {
  const child = spawn(
    process.execPath,
    [BIN, 'up', '--demo', '--home', home, '--port', '0', '--admin-port', '0'],
    {
      env: ENV,
    },
  );
  child.stderr.resume();
  const url = new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${out}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /ztgate listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}:\n${out}`));
    });
  });
  return { child, url };
}

const exited = (child: ChildProcessWithoutNullStreams) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });

describe('ledger crash safety', () => {
  let home: string;
  after(async () => {
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('SIGKILL under sustained traffic loses no entry of an answer that went out', async () => {
    home = await mkdtemp(join(tmpdir(), 'ztgate-crash-'));
    const first = startUp(home);
    const url = await first.url;
    const token = spawnSync(process.execPath, [BIN, 'token', '--home', home, '--user', 'crash'], {
      encoding: 'utf8',
      env: ENV,
    }).stdout.trim();
    assert.ok(token.length > 20, 'a demo token');

    const answered = new Set<string>();
    let stop = false;
    const client = async (n: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const stream = (n + i) % 3 === 0;
        try {
          const res = await fetch(`${url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              model: 'demo',
              stream,
              messages: [{ role: 'user', content: `c${n} r${i}` }],
            }),
          });
          const id = res.headers.get('x-request-id');
          if (res.status !== 200 || !id) continue;
          // For a stream, the head and first byte went out only after the release entry.
          if (stream) {
            const reader = res.body!.getReader();
            const { value } = await reader.read();
            if (value && value.length > 0) answered.add(id);
            await reader.cancel().catch(() => undefined);
          } else {
            await res.text();
            answered.add(id);
          }
        } catch {
          // the process died under this request: the client got nothing
          if (stop) return;
        }
      }
    };
    const clients = Array.from({ length: 8 }, (_, n) => client(n));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    first.child.kill('SIGKILL');
    await exited(first.child);
    stop = true;
    await Promise.all(clients);
    assert.ok(answered.size > 20, `sustained traffic (${answered.size} answers)`);

    // Restart, let it sign a checkpoint over what survived, and stop it cleanly.
    const second = startUp(home);
    await second.url;
    second.child.kill('SIGTERM');
    assert.equal(await exited(second.child), 0);

    const verify = spawnSync(process.execPath, [BIN, 'audit', 'verify', '--home', home], {
      encoding: 'utf8',
      env: ENV,
    });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);

    const store = new SqliteStore({ path: join(home, 'ztgate.db') });
    try {
      await store.migrate();
      const released = new Set<string>();
      for (let afterSeq = 0; ;) {
        const page = await store.audit.list({ afterSeq, limit: 1000, phase: 'release' });
        if (page.length === 0) break;
        for (const record of page) released.add(record.entry.requestId);
        afterSeq = page[page.length - 1]!.seq;
      }
      const missing = [...answered].filter((id) => !released.has(id));
      assert.deepEqual(missing, [], 'every answer that went out has its entry');
    } finally {
      await store.close();
    }
  });
});
