// The revocation list on both buses: two replicas (two RevocationList instances) share
// revocations through one bus, by message and by polling. Redis at 127.0.0.1:6379 is required;
// when it is down these tests fail, they never skip.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  RevocationInputRefused,
  RevocationList,
  tokenHash,
  type Revocation,
  type RevocationListOptions,
} from '../../src/identity/revocation-list.js';
import { createBus, type StateBus } from '../../src/store/index.js';
import { MemoryBus } from '../../src/store/memory-bus.js';
import { dropPrefix, REDIS_URL } from '../helpers/redis-prefix.js';

interface Fixture {
  /** A replica's bus: every bus it returns shares keys and channels with the others. */
  open(): Promise<StateBus>;
  /** A bus that no longer answers. */
  dead(): Promise<StateBus>;
  cleanup(): Promise<void>;
}

/** Waits until `condition` holds; returns how long that took. Fails after `timeoutMs`. */
async function within(timeoutMs: number, condition: () => boolean, what: string): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) assert.fail(`${what} did not happen within ${timeoutMs} ms`);
    await sleep(5);
  }
  return Date.now() - started;
}

function revocationContract(name: string, makeFixture: () => Promise<Fixture>): void {
  describe(`RevocationList: ${name}`, () => {
    let fixture: Fixture;
    const lists: RevocationList[] = [];
    const buses: StateBus[] = [];

    before(async () => {
      fixture = await makeFixture();
    });

    after(async () => {
      for (const list of lists) await list.close();
      for (const bus of buses) await bus.close().catch(() => undefined);
      await fixture?.cleanup();
    });

    /** A started replica on a bus of its own (sharing state with the others). */
    async function replica(options: Partial<RevocationListOptions> = {}): Promise<RevocationList> {
      const bus = await fixture.open();
      buses.push(bus);
      const list = new RevocationList({ bus, snapshotIntervalMs: 0, ...options });
      lists.push(list);
      await list.start();
      return list;
    }

    const unique = (what: string): string => `${what}-${randomBytes(6).toString('hex')}`;

    it('a revocation on one replica is in force on another within 1 s, for every kind', async () => {
      const a = await replica();
      const b = await replica();
      const targets = [
        ['token', tokenHash(unique('token')), { tokenHash: '' }],
        ['jti', unique('jti'), { jti: '' }],
        ['subject', `https://idp.example#${unique('alice')}`, { subject: '' }],
        ['device', unique('device'), { deviceId: '' }],
        ['session', unique('sid'), { sessionId: '' }],
        ['apikey', 'abcdefghijk2', { apiKeyId: '' }],
        ['certificate', randomBytes(16).toString('hex'), { certificateSerial: '' }],
      ] as const;
      for (const [kind, value, shape] of targets) {
        const field = Object.keys(shape)[0] as keyof typeof shape;
        const query = { [field]: value };
        assert.equal(b.isRevoked(query).revoked, false);
        const started = Date.now();
        const made = await a.revoke({ kind, value, reason: 'test', actor: 'cli:tester@host' });
        assert.equal(made.kind, kind);
        assert.deepEqual(a.isRevoked(query), { revoked: true, kind }, 'in force at once where it was made');
        await within(1000 - (Date.now() - started), () => b.isRevoked(query).revoked, `${kind} on replica B`);
        assert.deepEqual(b.isRevoked(query), { revoked: true, kind });
        assert.deepEqual(b.isRevoked({ subject: 'someone-else', ...query }), { revoked: true, kind });
      }
      assert.deepEqual(b.isRevoked({}), { revoked: false });
    });

    it('a replica that misses the message (not subscribed) catches up by polling within 1 s', async () => {
      const a = await replica();
      const deaf = await replica({ subscribe: false });
      const subject = unique('mallory');
      const started = Date.now();
      await a.revoke({ kind: 'subject', value: subject, actor: 'admin' });
      const took = await within(
        1000 - (Date.now() - started),
        () => deaf.isRevoked({ subject }).revoked,
        'resync',
      );
      assert.ok(took <= 1000);
    });

    it('revocations end with their TTL, on every replica and on the bus', async () => {
      const a = await replica();
      const b = await replica();
      const device = unique('laptop');
      await a.revoke({ kind: 'device', value: device, actor: 'admin', ttlMs: 1000 });
      await within(1000, () => b.isRevoked({ deviceId: device }).revoked, 'revocation on B');
      await sleep(1100);
      assert.equal(a.isRevoked({ deviceId: device }).revoked, false);
      assert.equal(b.isRevoked({ deviceId: device }).revoked, false);
      assert.equal(a.list({ kind: 'device' }).filter((r) => r.value === device).length, 0);
      const late = await replica();
      assert.equal(
        late.isRevoked({ deviceId: device }).revoked,
        false,
        'a replica starting later does not load it',
      );
    });

    it('a replica started later loads every live revocation; listeners hear of each', async () => {
      const a = await replica();
      const values = [unique('s1'), unique('s2'), unique('s3')];
      for (const value of values)
        await a.revoke({ kind: 'session', value, actor: 'admin', reason: 'logout' });
      const heard: Revocation[] = [];
      const bus = await fixture.open();
      buses.push(bus);
      const late = new RevocationList({ bus, snapshotIntervalMs: 0 });
      lists.push(late);
      const stop = late.onRevoked((r) => heard.push(r));
      await late.start();
      for (const sessionId of values) assert.equal(late.isRevoked({ sessionId }).revoked, true);
      assert.deepEqual(
        heard.filter((r) => values.includes(r.value)).map((r) => [r.kind, r.value, r.reason, r.actor]),
        values.map((v) => ['session', v, 'logout', 'admin']),
      );
      const more = unique('s4');
      stop();
      await a.revoke({ kind: 'session', value: more, actor: 'admin' });
      await within(1000, () => late.isRevoked({ sessionId: more }).revoked, 'later revocation');
      assert.ok(!heard.some((r) => r.value === more), 'an unsubscribed listener hears nothing');
    });

    it('a snapshot lets a new replica start without the log', async () => {
      const writer = await replica({ snapshotIntervalMs: 200, resyncIntervalMs: 100, pendingGraceMs: 300 });
      const value = unique('snap');
      await writer.revoke({ kind: 'jti', value, actor: 'admin' });
      const bus = await fixture.open();
      buses.push(bus);
      // Wait for a snapshot that holds it, then remove its log slot: only the snapshot has it.
      let snapshot: string | undefined;
      const deadline = Date.now() + 2000;
      while (Date.now() < deadline) {
        snapshot = await bus.get('revocations:snapshot');
        if (snapshot?.includes(value)) break;
        await sleep(50);
      }
      assert.ok(snapshot?.includes(value), 'a snapshot was written');
      const seq = Number(await bus.get('revocations:seq'));
      for (let n = 1; n <= seq; n++) {
        const slot = await bus.get(`revocations:log:${n}`);
        if (slot?.includes(value)) await bus.delete(`revocations:log:${n}`);
      }
      const late = await replica();
      assert.equal(late.isRevoked({ jti: value }).revoked, true);
    });

    it('the longer of two revocations of one target wins; list is newest first and filters by kind', async () => {
      const a = await replica();
      const b = await replica();
      const subject = unique('dup');
      await a.revoke({ kind: 'subject', value: subject, actor: 'admin', ttlMs: 60_000 });
      await a.revoke({ kind: 'subject', value: subject, actor: 'admin', ttlMs: 1000 });
      await sleep(1100);
      await within(1000, () => b.isRevoked({ subject }).revoked, 'on B');
      assert.equal(
        a.isRevoked({ subject }).revoked,
        true,
        'the shorter one did not cut the longer one short',
      );
      const other = unique('newer');
      await a.revoke({ kind: 'subject', value: other, actor: 'admin' });
      const listed = a.list({ kind: 'subject' });
      assert.equal(listed[0]?.value, other);
      assert.ok(listed.every((r) => r.kind === 'subject'));
      assert.ok(listed.some((r) => r.value === subject));
    });

    it('normalises certificate serials and token hashes', async () => {
      const a = await replica();
      await a.revoke({ kind: 'certificate', value: '00:0A:1B:FF', actor: 'admin' });
      for (const serial of ['0a1bff', 'A1BFF', '0A:1B:FF', '000a1bff']) {
        assert.deepEqual(a.isRevoked({ certificateSerial: serial }), { revoked: true, kind: 'certificate' });
      }
      const hash = tokenHash(unique('tok'));
      await a.revoke({ kind: 'token', value: hash.toUpperCase(), actor: 'admin' });
      assert.equal(a.isRevoked({ tokenHash: hash }).revoked, true);
      assert.equal(a.isRevoked({ tokenHash: 'not-a-hash' }).revoked, false);
    });

    it('refuses invalid input with stable codes and stores nothing', async () => {
      const a = await replica();
      const before = a.size;
      const cases: [Parameters<RevocationList['revoke']>[0], string][] = [
        [{ kind: 'user' as 'subject', value: 'x', actor: 'admin' }, 'invalid_kind'],
        [{ kind: 'subject', value: '', actor: 'admin' }, 'invalid_value'],
        [{ kind: 'subject', value: 'x'.repeat(513), actor: 'admin' }, 'invalid_value'],
        [{ kind: 'subject', value: 'a\nb', actor: 'admin' }, 'invalid_value'],
        [{ kind: 'token', value: 'eyJhbGciOi.raw.token', actor: 'admin' }, 'invalid_value'],
        [{ kind: 'apikey', value: 'UPPER', actor: 'admin' }, 'invalid_value'],
        [{ kind: 'certificate', value: 'xyz', actor: 'admin' }, 'invalid_value'],
        [{ kind: 'subject', value: 'x', reason: 'r'.repeat(501), actor: 'admin' }, 'invalid_reason'],
        [{ kind: 'subject', value: 'x', reason: 'bell\u0007', actor: 'admin' }, 'invalid_reason'],
        [{ kind: 'subject', value: 'x', ttlMs: 999, actor: 'admin' }, 'invalid_ttl'],
        [{ kind: 'subject', value: 'x', ttlMs: 401 * 86_400_000, actor: 'admin' }, 'invalid_ttl'],
        [{ kind: 'subject', value: 'x', ttlMs: 1.5e3 + 0.5, actor: 'admin' }, 'invalid_ttl'],
      ];
      for (const [input, code] of cases) {
        await assert.rejects(a.revoke(input), (err: unknown) => {
          assert.ok(err instanceof RevocationInputRefused, String(err));
          assert.equal(err.code, code);
          return true;
        });
      }
      await assert.rejects(a.revoke({ kind: 'subject', value: 'x', actor: '' }), TypeError);
      assert.equal(a.size, before);
    });

    it('after the bus loses its state (counter reset), new revocations are still seen', async () => {
      const a = await replica();
      const b = await replica({ subscribe: false });
      const first = unique('before');
      await a.revoke({ kind: 'subject', value: first, actor: 'admin' });
      await within(1000, () => b.isRevoked({ subject: first }).revoked, 'first');
      const bus = await fixture.open();
      buses.push(bus);
      const seq = Number(await bus.get('revocations:seq'));
      for (let n = 1; n <= seq; n++) await bus.delete(`revocations:log:${n}`);
      await bus.delete('revocations:seq');
      await sleep(600);
      const second = unique('after');
      await a.revoke({ kind: 'subject', value: second, actor: 'admin' });
      await within(1500, () => b.isRevoked({ subject: second }).revoked, 'after the reset');
      assert.equal(b.isRevoked({ subject: first }).revoked, true, 'what was held stays held');
    });

    it('isRevoked is synchronous and cheap with many revocations held', async () => {
      const a = await replica();
      const bus = await fixture.open();
      buses.push(bus);
      // Many entries through the log at once (as a starting replica would read them).
      const base = Number((await bus.get('revocations:seq')) ?? 0);
      const n = 5000;
      const now = Date.now();
      // In slices: 5,000 commands in flight at once can outlast the bus's 1 s command timeout on
      // a loaded machine (the setup, not the code under test, would fail).
      const write = (i: number) =>
        bus.set(
          `revocations:log:${base + i + 1}`,
          JSON.stringify({
            v: 1,
            seq: base + i + 1,
            kind: 'jti',
            value: `bulk-${i}`,
            reason: '',
            actor: 'test',
            revokedAt: new Date(now).toISOString(),
            expiresAt: new Date(now + 60_000).toISOString(),
          }),
          60_000,
        );
      for (let i = 0; i < n; i += 250)
        await Promise.all(Array.from({ length: Math.min(250, n - i) }, (_, j) => write(i + j)));
      await bus.increment('revocations:seq', n);
      await a.resync();
      assert.equal(a.isRevoked({ jti: 'bulk-4999' }).revoked, true);
      const started = process.hrtime.bigint();
      let hits = 0;
      for (let i = 0; i < 100_000; i++)
        if (a.isRevoked({ jti: `bulk-${i % (2 * n)}`, subject: 'x' }).revoked) hits++;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      assert.equal(hits, 50_000);
      assert.ok(ms < 500, `100,000 checks took ${ms} ms`);
    });

    it('start fails when the bus does not answer; assertFresh reports a live list', async () => {
      const list = new RevocationList({ bus: await fixture.dead() });
      await assert.rejects(list.start());
      const live = await replica();
      live.assertFresh();
      const bus = await fixture.open();
      buses.push(bus);
      const idle = new RevocationList({ bus });
      assert.throws(() => idle.assertFresh(), /stale/);
    });
  });
}

revocationContract('memory bus', async () => {
  const bus = new MemoryBus();
  // Every replica of a memory bus shares one in-process bus; closing one "replica" must not close it.
  const view = (): StateBus => ({
    kind: 'memory',
    publish: (c, m) => bus.publish(c, m),
    subscribe: (c, h) => bus.subscribe(c, h),
    set: (k, v, t) => bus.set(k, v, t),
    get: (k) => bus.get(k),
    delete: (k) => bus.delete(k),
    increment: (k, by, t) => bus.increment(k, by, t),
    ping: () => bus.ping(),
    close: async () => undefined,
  });
  return {
    open: async () => view(),
    dead: async () => {
      const closed = new MemoryBus();
      await closed.close();
      return closed;
    },
    cleanup: () => bus.close(),
  };
});

revocationContract('redis bus', async () => {
  const keyPrefix = `ztgate-test-${randomBytes(4).toString('hex')}:`;
  return {
    open: () => createBus({ url: REDIS_URL, keyPrefix }),
    dead: async () => {
      const closed = await createBus({ url: REDIS_URL, keyPrefix });
      await closed.close();
      return closed;
    },
    cleanup: () => dropPrefix(keyPrefix),
  };
});
