/** A token bucket per key: `capacity` at most, refilled at `perSecond`. */
export class TokenBuckets {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
    /** Keys kept at most; the least recently used go first (peers are few, this bounds memory). */
    private readonly maxKeys = 1024,
  ) {
    if (!(capacity >= 1) || !(perSecond > 0))
      throw new RangeError('a token bucket needs capacity >= 1 and rate > 0');
  }

  /** Takes one token for `key`: 0 when granted, otherwise the seconds until one is available. */
  take(key: string): number {
    const now = this.now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.capacity, at: now };
    this.#buckets.delete(key);
    bucket.tokens = Math.min(this.capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > this.maxKeys) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest !== undefined) this.#buckets.delete(oldest);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.perSecond);
  }
}
