import { performance } from 'node:perf_hooks';
import type { BusHandler, StateBus } from './types.js';

/** Options for {@link MemoryBus}. */
export interface MemoryBusOptions {
  /** How often expired keys are swept. Default 5000 ms. */
  readonly sweepIntervalMs?: number;
}

interface Slot {
  value: string;
  /** performance.now() deadline; undefined = no TTL. */
  expiresAt: number | undefined;
}

function checkTtl(ttlMs: number | undefined): void {
  if (ttlMs !== undefined && !(Number.isFinite(ttlMs) && ttlMs > 0)) {
    throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
  }
}

/**
 * In-process StateBus for a single replica. Mirrors Redis semantics where callers could
 * notice: messages arrive asynchronously, `set` without a TTL clears an old TTL, and
 * `increment` sets the TTL only when it creates the key.
 */
export class MemoryBus implements StateBus {
  readonly kind = 'memory';
  private readonly channels = new Map<string, Set<BusHandler>>();
  private readonly keys = new Map<string, Slot>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(options: MemoryBusOptions = {}) {
    // Lazy expiry alone would keep keys that are never read again; the sweep bounds memory.
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 5000);
    this.sweeper.unref();
  }

  async publish(channel: string, message: string): Promise<void> {
    this.assertOpen();
    const handlers = this.channels.get(channel);
    if (!handlers) return;
    for (const handler of [...handlers]) {
      setImmediate(() => {
        // Re-checked so that unsubscribing stops delivery even for an already published message.
        if (!handlers.has(handler)) return;
        try {
          handler(message);
        } catch {
          // Handlers must handle their own errors; one that throws must not starve the others.
        }
      });
    }
  }

  async subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    this.assertOpen();
    let handlers = this.channels.get(channel);
    if (!handlers) this.channels.set(channel, (handlers = new Set()));
    // Wrapped so that the same function subscribed twice is two independent subscriptions.
    const own: BusHandler = (message) => handler(message);
    handlers.add(own);
    return async () => {
      handlers.delete(own);
      if (handlers.size === 0 && this.channels.get(channel) === handlers) this.channels.delete(channel);
    };
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.assertOpen();
    checkTtl(ttlMs);
    this.keys.set(key, { value, expiresAt: ttlMs === undefined ? undefined : performance.now() + ttlMs });
  }

  async get(key: string): Promise<string | undefined> {
    this.assertOpen();
    return this.live(key)?.value;
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    const existed = this.live(key) !== undefined;
    this.keys.delete(key);
    return existed;
  }

  async increment(key: string, by: number, ttlMs?: number): Promise<number> {
    this.assertOpen();
    checkTtl(ttlMs);
    if (!Number.isSafeInteger(by)) throw new RangeError(`increment needs an integer, got ${by}`);
    let slot = this.live(key);
    if (!slot) {
      slot = { value: '0', expiresAt: ttlMs === undefined ? undefined : performance.now() + ttlMs };
      this.keys.set(key, slot);
    }
    const current = Number(slot.value);
    if (!/^-?\d+$/.test(slot.value) || !Number.isSafeInteger(current + by)) {
      throw new Error(`value of ${key} is not an integer or out of range`);
    }
    slot.value = String(current + by);
    return current + by;
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    this.channels.clear();
    this.keys.clear();
  }

  /** The key's slot, or undefined (and forgotten) once its TTL has passed. */
  private live(key: string): Slot | undefined {
    const slot = this.keys.get(key);
    if (slot?.expiresAt !== undefined && slot.expiresAt <= performance.now()) {
      this.keys.delete(key);
      return undefined;
    }
    return slot;
  }

  private sweep(): void {
    const now = performance.now();
    for (const [key, slot] of this.keys) {
      if (slot.expiresAt !== undefined && slot.expiresAt <= now) this.keys.delete(key);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the state bus is closed');
  }
}
