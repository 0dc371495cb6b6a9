import type { StateBus } from '../store/index.js';

/** A view of a StateBus whose keys and channels all start with `prefix` (two lists, one bus). */
export function prefixedBus(bus: StateBus, prefix: string): StateBus {
  const k = (key: string): string => `${prefix}${key}`;
  return {
    kind: bus.kind,
    publish: (channel, message) => bus.publish(k(channel), message),
    subscribe: (channel, handler) => bus.subscribe(k(channel), handler),
    set: (key, value, ttlMs) => bus.set(k(key), value, ttlMs),
    get: (key) => bus.get(k(key)),
    delete: (key) => bus.delete(k(key)),
    increment: (key, by, ttlMs) => bus.increment(k(key), by, ttlMs),
    ping: () => bus.ping(),
    // The underlying bus belongs to its owner.
    close: async () => undefined,
  };
}
