import { factoryFor } from './create-store.js';
import type { StateBus } from './types.js';

/** How to reach the shared state bus. */
export interface BusOptions {
  /** `memory:` (single replica) or `redis://…` / `rediss://…`. */
  readonly url: string;
  /** Namespace for keys and channels on a shared Redis (ignored by memory). */
  readonly keyPrefix?: string;
}

type BusFactory = (options: BusOptions) => Promise<StateBus>;

async function openMemory(): Promise<StateBus> {
  const { MemoryBus } = await import('./memory-bus.js');
  return new MemoryBus();
}

async function openRedis(options: BusOptions): Promise<StateBus> {
  const { RedisBus } = await import('./redis-bus.js');
  const bus = new RedisBus({ url: options.url, keyPrefix: options.keyPrefix });
  await bus.connect();
  return bus;
}

const BUSES: Readonly<Record<string, BusFactory>> = {
  memory: openMemory,
  redis: openRedis,
  rediss: openRedis,
};

/** Opens the bus named by `options.url`; a Redis bus is connected before this resolves. */
export async function createBus(options: BusOptions): Promise<StateBus> {
  return factoryFor('bus', options.url, BUSES)(options);
}
