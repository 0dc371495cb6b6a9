import { Redis } from 'ioredis';
import type { BusHandler, StateBus } from './types.js';

/** Options for {@link RedisBus}. */
export interface RedisBusOptions {
  /** `redis://…` or `rediss://…` (TLS). */
  readonly url: string;
  /** Prepended to every key and channel, so several deployments can share one Redis. Default `ztgate:`. */
  readonly keyPrefix?: string;
  /** A command that gets no answer within this time rejects. Default 1000 ms. */
  readonly commandTimeoutMs?: number;
  /** Connecting (TCP and handshake) fails after this time. Default 2000 ms. */
  readonly connectTimeoutMs?: number;
}

// Atomic "INCRBY, and PEXPIRE only if this call created the key" (PEXPIRE NX needs Redis 7).
const INCREMENT_LUA = `
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created and tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value`;

/** The command that defineCommand adds, which the ioredis typings cannot know about. */
interface WithIncrement {
  ztgateIncrement(key: string, by: number, ttlMs: number): Promise<number>;
}

interface Channel {
  readonly handlers: Set<BusHandler>;
  /** Settles when Redis has acknowledged the SUBSCRIBE. */
  readonly ready: Promise<unknown>;
}

function ttlArg(ttlMs: number | undefined): number {
  if (ttlMs === undefined) return 0;
  if (!(Number.isFinite(ttlMs) && ttlMs > 0))
    throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}

async function shut(connection: Redis): Promise<void> {
  if (connection.status === 'ready') {
    await connection.quit().catch(() => connection.disconnect());
  } else {
    connection.disconnect();
  }
}

/**
 * StateBus on Redis, shared by all replicas. Fails closed: with Redis unreachable, calls reject
 * within about `commandTimeoutMs` instead of queueing until it returns.
 */
export class RedisBus implements StateBus {
  readonly kind = 'redis';
  private readonly commands: Redis;
  private readonly prefix: string;
  private readonly channels = new Map<string, Channel>();
  private readonly connectTimeoutMs: number;
  private subscriber: Promise<Redis> | undefined;
  private closed = false;

  /** Does not connect; call {@link RedisBus.connect} (createBus does). */
  constructor(options: RedisBusOptions) {
    this.prefix = options.keyPrefix ?? 'ztgate:';
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.commands = new Redis(options.url, {
      lazyConnect: true,
      // Queue only until the first connect; afterwards an outage must fail calls, not park them.
      enableOfflineQueue: true,
      maxRetriesPerRequest: 1,
      connectTimeout: 1000,
      commandTimeout: options.commandTimeoutMs ?? 1000,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    });
    // Errors surface through the rejected calls; without a listener ioredis logs every retry.
    this.commands.on('error', () => undefined);
    this.commands.defineCommand('ztgateIncrement', { numberOfKeys: 1, lua: INCREMENT_LUA });
  }

  /** Connects the command connection; rejects (and stops retrying) when Redis is unreachable. */
  async connect(): Promise<void> {
    await RedisBus.open(this.commands, this.connectTimeoutMs);
  }

  async publish(channel: string, message: string): Promise<void> {
    this.assertOpen();
    await this.commands.publish(this.prefix + channel, message);
  }

  async subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    this.assertOpen();
    // Wrapped so that the same function subscribed twice is two independent subscriptions.
    const own: BusHandler = (message) => handler(message);
    let entry = this.channels.get(channel);
    if (!entry) {
      const ready = this.subscriberConnection().then((sub) => sub.subscribe(this.prefix + channel));
      entry = { handlers: new Set(), ready };
      this.channels.set(channel, entry);
      ready.catch(() => {
        if (this.channels.get(channel) === entry) this.channels.delete(channel);
      });
    }
    entry.handlers.add(own);
    const current = entry;
    try {
      await current.ready;
    } catch (err) {
      current.handlers.delete(own);
      throw err;
    }
    return async () => {
      if (!current.handlers.delete(own) || current.handlers.size > 0) return;
      if (this.channels.get(channel) === current) this.channels.delete(channel);
      const sub = await this.subscriber;
      if (sub && !this.closed) await sub.unsubscribe(this.prefix + channel);
    };
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.assertOpen();
    const ttl = ttlArg(ttlMs);
    if (ttl > 0) await this.commands.set(this.prefix + key, value, 'PX', ttl);
    else await this.commands.set(this.prefix + key, value);
  }

  async get(key: string): Promise<string | undefined> {
    this.assertOpen();
    return (await this.commands.get(this.prefix + key)) ?? undefined;
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    return (await this.commands.del(this.prefix + key)) > 0;
  }

  async increment(key: string, by: number, ttlMs?: number): Promise<number> {
    this.assertOpen();
    if (!Number.isSafeInteger(by)) throw new RangeError(`increment needs an integer, got ${by}`);
    const commands = this.commands as Redis & WithIncrement;
    return commands.ztgateIncrement(this.prefix + key, by, ttlArg(ttlMs));
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await this.commands.ping();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.channels.clear();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    await Promise.all([shut(this.commands), subscriber?.then(shut, () => undefined)]);
  }

  /** Subscriptions need a connection of their own: a subscribed connection takes no commands. */
  private subscriberConnection(): Promise<Redis> {
    this.subscriber ??= (async () => {
      const sub = this.commands.duplicate({ lazyConnect: true, enableOfflineQueue: true });
      sub.on('error', () => undefined);
      sub.on('message', (channel: string, message: string) => this.deliver(channel, message));
      try {
        await RedisBus.open(sub, this.connectTimeoutMs);
      } catch (err) {
        this.subscriber = undefined;
        throw err;
      }
      return sub;
    })();
    return this.subscriber;
  }

  private deliver(prefixed: string, message: string): void {
    const entry = this.channels.get(prefixed.slice(this.prefix.length));
    if (!entry) return;
    for (const handler of [...entry.handlers]) {
      try {
        handler(message);
      } catch {
        // Handlers must handle their own errors; one that throws must not starve the others
        // or unwind into the ioredis parser.
      }
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the state bus is closed');
  }

  /**
   * Connects with a deadline of its own: ioredis bounds only the TCP connect, and a server that
   * accepts but never answers would hold the handshake (CLIENT SETINFO, INFO) for seconds.
   */
  private static async open(connection: Redis, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('Redis did not answer in time')), timeoutMs);
    });
    try {
      await Promise.race([connection.connect(), deadline]);
    } catch (err) {
      connection.disconnect();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    connection.options.enableOfflineQueue = false;
  }
}
