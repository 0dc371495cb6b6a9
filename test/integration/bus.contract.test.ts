// The StateBus contract: every implementation runs the same cases. Redis at 127.0.0.1:6379 is
// required; when it is down these tests fail, they never skip.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import { createBus, type StateBus } from '../../src/store/index.js';
import { MemoryBus } from '../../src/store/memory-bus.js';
import { RedisBus } from '../../src/store/redis-bus.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const SECRET = 's3cr3t-Pa55';

/** How a contract run reaches one implementation. */
interface BusFixture {
  /** A replica: every bus it returns shares keys and channels with the others. */
  open(): Promise<StateBus>;
  /** A bus that shares nothing with the replicas (another prefix, another process). */
  isolated(): Promise<StateBus>;
  cleanup(): Promise<void>;
}

let names = 0;
/** A key or channel name no other case uses. */
const unique = (what: string): string => `${what}-${++names}`;

/** Collects the messages a handler receives. */
function inbox(): { readonly messages: string[]; readonly handler: (message: string) => void } {
  const messages: string[] = [];
  return { messages, handler: (message) => messages.push(message) };
}

/** Polls `condition`, running `poke` (if any) between polls. */
async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 2000,
  poke?: () => Promise<unknown>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await poke?.();
    await sleep(poke ? 100 : 10);
  }
}

async function rejectsWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  const started = Date.now();
  await assert.rejects(promise);
  const elapsed = Date.now() - started;
  assert.ok(elapsed < ms, `rejected after ${elapsed} ms, expected under ${ms} ms`);
}

function busContract(name: string, makeFixture: () => Promise<BusFixture>): void {
  describe(`StateBus contract: ${name}`, () => {
    let fixture: BusFixture;
    let a: StateBus;
    let b: StateBus;

    before(async () => {
      fixture = await makeFixture();
      a = await fixture.open();
      b = await fixture.open();
    });

    after(async () => {
      await fixture?.cleanup();
    });

    it('publish reaches every subscriber of the channel on every replica, and no other channel', async () => {
      const channel = unique('ch');
      const first = inbox();
      const second = inbox();
      const other = inbox();
      const offA = await a.subscribe(channel, first.handler);
      const offB = await b.subscribe(channel, second.handler);
      const offOther = await b.subscribe(unique('other'), other.handler);
      await a.publish(channel, 'hello');
      await b.publish(channel, 'again');
      await waitFor(() => first.messages.length === 2 && second.messages.length === 2, 'both messages');
      await sleep(100);
      assert.deepEqual(first.messages, ['hello', 'again']);
      assert.deepEqual(second.messages, ['hello', 'again']);
      assert.deepEqual(other.messages, []);
      await Promise.all([offA(), offB(), offOther()]);
    });

    it('delivers asynchronously, never inside publish', async () => {
      const channel = unique('ch');
      const box = inbox();
      const off = await a.subscribe(channel, box.handler);
      const published = a.publish(channel, 'later');
      assert.deepEqual(box.messages, []);
      await published;
      await waitFor(() => box.messages.length === 1, 'the message');
      await off();
    });

    it('unsubscribe stops delivery for that handler only', async () => {
      const channel = unique('ch');
      const first = inbox();
      const second = inbox();
      const offFirst = await a.subscribe(channel, first.handler);
      const offSecond = await b.subscribe(channel, second.handler);
      // The same function twice is two subscriptions: removing one leaves the other.
      const offTwice = await b.subscribe(channel, second.handler);
      await offFirst();
      await offFirst();
      await a.publish(channel, 'one');
      await waitFor(() => second.messages.length === 2, 'two deliveries to the doubled handler');
      await offTwice();
      await a.publish(channel, 'two');
      await waitFor(() => second.messages.length === 3, 'one delivery after removing the twin');
      await offSecond();
      await a.publish(channel, 'three');
      await sleep(150);
      assert.deepEqual(first.messages, []);
      assert.deepEqual(second.messages, ['one', 'one', 'two']);
    });

    it('a handler that throws does not stop the others', async () => {
      const channel = unique('ch');
      const box = inbox();
      const offBad = await a.subscribe(channel, () => {
        throw new Error('handler bug');
      });
      const offGood = await a.subscribe(channel, box.handler);
      await a.publish(channel, 'still delivered');
      await waitFor(() => box.messages.length === 1, 'delivery past a throwing handler');
      await a.ping();
      await Promise.all([offBad(), offGood()]);
    });

    it('set, get and delete', async () => {
      const key = unique('key');
      assert.equal(await a.get(key), undefined);
      await a.set(key, 'v1');
      assert.equal(await b.get(key), 'v1');
      await b.set(key, '');
      assert.equal(await a.get(key), '');
      assert.equal(await a.delete(key), true);
      assert.equal(await b.get(key), undefined);
      assert.equal(await b.delete(key), false);
    });

    it('keys expire after their TTL', async () => {
      const key = unique('ttl');
      const kept = unique('kept');
      await a.set(key, 'short', 150);
      await a.set(kept, 'first', 150);
      // Like Redis SET: a later set without a TTL makes the key persistent again.
      await a.set(kept, 'second');
      assert.equal(await b.get(key), 'short');
      await sleep(300);
      assert.equal(await b.get(key), undefined);
      assert.equal(await a.delete(key), false);
      assert.equal(await a.get(kept), 'second');
      await a.delete(kept);
      await assert.rejects(a.set(key, 'x', 0), RangeError);
      await assert.rejects(a.set(key, 'x', -5), RangeError);
    });

    it('increment creates at 0, adds atomically, and rejects non-integers', async () => {
      const key = unique('counter');
      assert.equal(await a.increment(key, 1), 1);
      assert.equal(await b.increment(key, 5), 6);
      assert.equal(await a.increment(key, -2), 4);
      assert.equal(await a.get(key), '4');
      const zero = unique('zero');
      assert.equal(await a.increment(zero, 0), 0);
      assert.equal(await b.get(zero), '0');

      const shared = unique('shared');
      await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).increment(shared, 1)));
      assert.equal(await a.get(shared), '100');

      await assert.rejects(a.increment(key, 1.5), RangeError);
      const text = unique('text');
      await a.set(text, 'not a number');
      await assert.rejects(a.increment(text, 1));
      assert.equal(await a.get(text), 'not a number');
      await Promise.all([key, zero, shared, text].map((k) => a.delete(k)));
    });

    it('increment sets the TTL when it creates the key, and never extends it', async () => {
      const key = unique('window');
      assert.equal(await a.increment(key, 1, 400), 1);
      await sleep(250);
      assert.equal(await b.increment(key, 1, 400), 2);
      await sleep(250);
      // 500 ms after creation: gone, although the second increment was only 250 ms ago.
      assert.equal(await a.get(key), undefined);
      assert.equal(await a.increment(key, 1, 400), 1);
      await a.delete(key);
    });

    it('buses in different namespaces share no keys or messages', async () => {
      const other = await fixture.isolated();
      try {
        const key = unique('iso');
        const channel = unique('iso-ch');
        await a.set(key, 'mine');
        assert.equal(await other.get(key), undefined);
        await other.set(key, 'theirs');
        assert.equal(await a.get(key), 'mine');
        assert.equal(await other.increment(key + '-n', 1), 1);
        assert.equal(await a.get(key + '-n'), undefined);

        const mine = inbox();
        const theirs = inbox();
        const offMine = await a.subscribe(channel, mine.handler);
        const offTheirs = await other.subscribe(channel, theirs.handler);
        await a.publish(channel, 'for a');
        await other.publish(channel, 'for other');
        await waitFor(() => mine.messages.length === 1 && theirs.messages.length === 1, 'one message each');
        await sleep(100);
        assert.deepEqual(mine.messages, ['for a']);
        assert.deepEqual(theirs.messages, ['for other']);
        await Promise.all([offMine(), offTheirs(), a.delete(key)]);
      } finally {
        await other.close();
      }
    });

    it('ping answers, and calls reject after close', async () => {
      const bus = await fixture.isolated();
      await bus.ping();
      await bus.close();
      await assert.rejects(bus.ping());
      await assert.rejects(bus.get('anything'));
      await assert.rejects(bus.publish('anything', 'x'));
      await bus.close();
    });
  });
}

busContract('memory', async () => {
  const shared = new MemoryBus();
  const isolated: MemoryBus[] = [];
  return {
    // One process has one MemoryBus: both "replicas" are the same instance.
    open: async () => shared,
    isolated: async () => {
      const bus = new MemoryBus();
      isolated.push(bus);
      return bus;
    },
    cleanup: async () => {
      await Promise.all([shared, ...isolated].map((bus) => bus.close()));
    },
  };
});

busContract('redis', async () => {
  const base = `ztgate_test_${randomBytes(4).toString('hex')}`;
  const buses: RedisBus[] = [];
  let isolatedCount = 0;
  const open = async (keyPrefix: string): Promise<RedisBus> => {
    const bus = new RedisBus({ url: REDIS_URL, keyPrefix });
    buses.push(bus);
    // Connecting here makes an unreachable server fail the suite instead of skipping it.
    await bus.connect();
    return bus;
  };
  return {
    open: () => open(`${base}:`),
    isolated: () => open(`${base}_iso${++isolatedCount}:`),
    cleanup: async () => {
      await Promise.all(buses.map((bus) => bus.close()));
      const admin = new Redis(REDIS_URL);
      try {
        const keys = await admin.keys(`${base}*`);
        if (keys.length > 0) await admin.del(...keys);
      } finally {
        admin.disconnect();
      }
    },
  };
});

describe('createBus', () => {
  const opened: StateBus[] = [];

  after(async () => {
    await Promise.all(opened.map((bus) => bus.close()));
  });

  it('opens memory: and redis:// buses', async () => {
    const memory = await createBus({ url: 'memory:' });
    opened.push(memory);
    assert.equal(memory.kind, 'memory');
    const redis = await createBus({
      url: REDIS_URL,
      keyPrefix: `ztgate_test_${randomBytes(4).toString('hex')}:`,
    });
    opened.push(redis);
    assert.equal(redis.kind, 'redis');
    await redis.ping();
  });

  it('rejects an unknown scheme by name without leaking the password', async () => {
    await assert.rejects(createBus({ url: `http://admin:${SECRET}@cache.example` }), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, /unsupported bus url scheme "http:"/);
      assert.ok(!inspect(err, { showHidden: true, depth: 5 }).includes(SECRET), 'the password leaked');
      return true;
    });
    await assert.rejects(createBus({ url: 'no scheme here' }), /bus url has no scheme/);
    await assert.rejects(createBus({ url: 'hasOwnProperty:' }), /unsupported bus url scheme/);
  });

  it('rejects quickly when Redis is unreachable, without leaking the password', async () => {
    const started = Date.now();
    await assert.rejects(createBus({ url: `redis://:${SECRET}@127.0.0.1:1` }), (err: unknown) => {
      assert.ok(!inspect(err, { showHidden: true, depth: 5 }).includes(SECRET), 'the password leaked');
      return true;
    });
    assert.ok(Date.now() - started < 3000);
  });
});

describe('RedisBus fails closed', () => {
  const servers: Server[] = [];
  const sockets = new Set<Socket>();

  after(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  });

  /** A TCP server on a random port; `onConnection` decides what it does with clients. */
  async function listen(onConnection: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      onConnection(socket);
    });
    servers.push(server);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const address = server.address();
    assert.ok(address && typeof address === 'object');
    return { server, port: address.port };
  }

  it('rejects ping and get within 3 s on a closed port', async () => {
    const bus = new RedisBus({ url: 'redis://127.0.0.1:1' });
    try {
      await rejectsWithin(bus.ping(), 3000);
      await rejectsWithin(bus.get('k'), 3000);
      await rejectsWithin(bus.connect(), 3000);
    } finally {
      await bus.close();
    }
  });

  it('rejects within 3 s when the server accepts but never answers', async () => {
    const { port } = await listen(() => undefined);
    const bus = new RedisBus({ url: `redis://127.0.0.1:${port}` });
    try {
      await rejectsWithin(bus.connect(), 3000);
      await rejectsWithin(bus.ping(), 3000);
      await rejectsWithin(
        bus.subscribe('ch', () => undefined),
        3000,
      );
    } finally {
      await bus.close();
    }
  });

  it('rejects within 3 s when Redis goes away after connecting, and recovers when it returns', async () => {
    let up = true;
    // A proxy in front of the real Redis, so the test can cut the line without stopping Redis.
    const { port } = await listen((client) => {
      if (!up) return void client.destroy();
      const target = new URL(REDIS_URL);
      const upstream = connect(Number(target.port || 6379), target.hostname);
      sockets.add(upstream);
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        from.on('error', () => to.destroy());
        from.on('close', () => to.destroy());
        from.pipe(to);
      }
    });
    const key = `ztgate_test_${randomBytes(4).toString('hex')}`;
    const bus = new RedisBus({ url: `redis://127.0.0.1:${port}`, keyPrefix: `${key}:` });
    // Publishes straight to Redis, not through the proxy.
    const direct = new RedisBus({ url: REDIS_URL, keyPrefix: `${key}:` });
    try {
      await Promise.all([bus.connect(), direct.connect()]);
      await bus.set('k', 'v', 60_000);
      const box = inbox();
      await bus.subscribe('revocations', box.handler);
      up = false;
      for (const socket of sockets) socket.destroy();
      await rejectsWithin(bus.get('k'), 3000);
      await rejectsWithin(bus.ping(), 3000);
      await rejectsWithin(bus.increment('n', 1), 3000);
      up = true;
      const deadline = Date.now() + 5000;
      for (;;) {
        const ok = await bus.ping().then(
          () => true,
          () => false,
        );
        if (ok) break;
        assert.ok(Date.now() < deadline, 'the bus did not reconnect');
        await sleep(50);
      }
      assert.equal(await bus.get('k'), 'v');
      await bus.delete('k');
      // The subscription must come back by itself, or a replica would silently miss revocations.
      await waitFor(
        () => box.messages.length > 0,
        'delivery after reconnecting',
        5000,
        () => direct.publish('revocations', 'token-1'),
      );
    } finally {
      await Promise.all([bus.close(), direct.close()]);
    }
  });
});
