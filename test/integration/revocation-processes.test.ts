// Two gateway processes on one Redis: a revocation made in process A is in force in process B
// within 1 s, by message and (with B not subscribed) by polling alone. Redis at 127.0.0.1:6379 is
// required; when it is down these tests fail, they never skip.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dropPrefix } from '../helpers/redis-prefix.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LIST = fileURLToPath(new URL('../../src/identity/revocation-list.ts', import.meta.url));
const STORE = fileURLToPath(new URL('../../src/store/index.ts', import.meta.url));

/**
 * One replica. `watch SUBJECT SUBSCRIBE`: starts a list, prints `ready`, then prints
 * `seen <epoch ms>` as soon as SUBJECT is revoked. `revoke SUBJECT`: prints `start <epoch ms>`
 * and revokes SUBJECT.
 */
const REPLICA = `
const { RevocationList } = await import(${JSON.stringify(LIST)});
const { createBus } = await import(${JSON.stringify(STORE)});
const [mode, prefix, subject, subscribe] = process.argv.slice(1);
const bus = await createBus({ url: 'redis://127.0.0.1:6379', keyPrefix: prefix });
const list = new RevocationList({ bus, subscribe: subscribe !== 'deaf', snapshotIntervalMs: 0 });
if (mode === 'watch') {
  await list.start();
  console.log('ready');
  const timer = setInterval(() => {
    if (!list.isRevoked({ subject }).revoked) return;
    console.log('seen ' + Date.now());
    clearInterval(timer);
    list.close().then(() => bus.close());
  }, 2);
} else {
  console.log('start ' + Date.now());
  await list.revoke({ kind: 'subject', value: subject, actor: 'process-a', reason: 'test' });
  await list.close();
  await bus.close();
}
`;

interface Replica {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: AsyncIterator<string>;
  /** Settles with the exit code (listened for from the start, so an early exit is not missed). */
  readonly exited: Promise<number | null>;
}

function start(args: string[]): Replica {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', REPLICA, '--', ...args],
    {
      cwd: ROOT,
    },
  );
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, lines, exited };
}

async function line(lines: AsyncIterator<string>, prefix: string): Promise<string> {
  for (;;) {
    const next = await lines.next();
    if (next.done) assert.fail(`the process ended before printing "${prefix}"`);
    if (next.value.startsWith(prefix)) return next.value.slice(prefix.length).trim();
  }
}

describe('revocations across processes on one Redis', () => {
  const prefix = `ztgate-test-${randomBytes(4).toString('hex')}:`;
  const children: ChildProcessWithoutNullStreams[] = [];
  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill();
    await dropPrefix(prefix);
  });

  for (const mode of ['subscribed', 'deaf'] as const) {
    it(`process B (${mode === 'deaf' ? 'not subscribed: polling only' : 'subscribed'}) sees process A's revocation within 1 s`, async (t) => {
      const subject = `https://idp.example#${randomBytes(6).toString('hex')}`;
      const b = start(['watch', prefix, subject, mode]);
      children.push(b.child);
      await line(b.lines, 'ready');
      const a = start(['revoke', prefix, subject, mode]);
      children.push(a.child);
      const startedAt = Number(await line(a.lines, 'start'));
      const seenAt = Number(await line(b.lines, 'seen'));
      const took = seenAt - startedAt;
      t.diagnostic(`B saw it ${took} ms after A began revoking`);
      assert.ok(took >= 0 && took <= 1000, `B saw the revocation ${took} ms after A began it`);
      assert.deepEqual(await Promise.all([a.exited, b.exited]), [0, 0]);
    });
  }
});
