import type { WatchEvent, WatchSink } from '../core/index.js';

export type WatchListener = (event: WatchEvent) => void;

export interface WatchChannel {
  readonly sink: WatchSink;
  /** Registers a consumer of events (risk scoring and playbooks plug in here later). */
  listen(listener: WatchListener): () => void;
  /** Events dropped because the queue was full. */
  readonly dropped: () => number;
}

/**
 * The asynchronous watch side channel. `sink` only enqueues (O(1), never throws) and the queue
 * is drained on a later tick, so the answer is never delayed by watchers. The queue is bounded:
 * when consumers fall behind, the newest events are dropped and counted.
 */
export function createWatchChannel(
  capacity = 10_000,
  onListenerError: (err: unknown) => void = () => {},
  onDrop: () => void = () => {},
): WatchChannel {
  const queue: WatchEvent[] = [];
  const listeners = new Set<WatchListener>();
  let dropped = 0;
  let scheduled = false;

  const drain = (): void => {
    scheduled = false;
    const batch = queue.splice(0, queue.length);
    for (const event of batch) {
      for (const listener of listeners) {
        try {
          listener(event);
        } catch (err) {
          onListenerError(err);
        }
      }
    }
  };

  return {
    sink(event) {
      if (queue.length >= capacity) {
        dropped++;
        onDrop();
        return;
      }
      queue.push(event);
      if (!scheduled) {
        scheduled = true;
        setImmediate(drain);
      }
    },
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    dropped: () => dropped,
  };
}
