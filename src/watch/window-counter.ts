/**
 * The most recent events of one subject (time and request id), in a ring that grows on demand up
 * to its capacity: a subject seen once costs one slot, not `capacity`. Times are expected in
 * non-decreasing order (one processing clock).
 */
export class RecentEvents {
  private readonly times: number[] = [];
  private readonly ids: string[] = [];
  /** Where the next event goes once the ring is full. */
  private next = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('capacity must be at least 1');
  }

  get size(): number {
    return this.times.length;
  }

  push(time: number, id: string): void {
    if (this.times.length < this.capacity) {
      this.times.push(time);
      this.ids.push(id);
      return;
    }
    this.times[this.next] = time;
    this.ids[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Whether at least `n` of the kept events are at or after `since`. O(1). */
  atLeastSince(n: number, since: number): boolean {
    if (n > this.times.length) return false;
    return (this.times[this.index(n)] ?? -Infinity) >= since;
  }

  /** How many kept events are at or after `since` (at most `capacity`). */
  countSince(since: number): number {
    let n = 0;
    while (n < this.times.length && (this.times[this.index(n + 1)] ?? -Infinity) >= since) n++;
    return n;
  }

  /** The ids of the last `max` kept events at or after `since`, oldest first. */
  idsSince(since: number, max: number): string[] {
    const n = Math.min(max, this.countSince(since));
    const out: string[] = [];
    for (let k = n; k >= 1; k--) out.push(this.ids[this.index(k)] ?? '');
    return out;
  }

  /** Slot of the k-th most recent event (k = 1: the latest). */
  private index(k: number): number {
    const len = this.times.length;
    return len < this.capacity ? len - k : (this.next - k + this.capacity) % this.capacity;
  }
}

/**
 * A map of at most `capacity` entries that forgets the least recently used half at once: entries
 * live in a young and an old generation; a hit in the old one moves the entry to the young one,
 * and when the young one is full it becomes the old one and the old one is dropped. Every
 * operation is O(1). (A Map used as an LRU by delete + re-insert and evicting its first key
 * degrades to O(n) per eviction in V8: deleted slots at the front are skipped on every scan.)
 */
export class BoundedMap<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  private readonly half: number;

  constructor(readonly capacity: number) {
    if (!(capacity >= 2)) throw new RangeError('capacity must be at least 2');
    this.half = Math.floor(capacity / 2);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** The value, marking the key as recently used. */
  get(key: string): V | undefined {
    const value = this.young.get(key);
    if (value !== undefined) return value;
    const aged = this.old.get(key);
    if (aged !== undefined) {
      this.old.delete(key);
      this.insert(key, aged);
    }
    return aged;
  }

  /** The value without marking the key as used. */
  peek(key: string): V | undefined {
    return this.young.get(key) ?? this.old.get(key);
  }

  set(key: string, value: V): void {
    if (this.young.has(key)) {
      this.young.set(key, value);
      return;
    }
    this.old.delete(key);
    this.insert(key, value);
  }

  delete(key: string): void {
    if (!this.young.delete(key)) this.old.delete(key);
  }

  *entries(): IterableIterator<[string, V]> {
    yield* this.old;
    yield* this.young;
  }

  private insert(key: string, value: V): void {
    this.young.set(key, value);
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
  }
}
