import type { Logger } from 'pino';

export interface Closers {
  push(close: () => Promise<unknown>): void;
  /** Closes in reverse order of start; a closer that fails is logged and the others still run. */
  closeAll(): Promise<void>;
}

export function createClosers(logger: Logger): Closers {
  const closers: (() => Promise<unknown>)[] = [];
  return {
    push: (close) => void closers.push(close),
    closeAll: async () => {
      // Components may finish closing on handles they unref (timers, worker threads); this keeps
      // the process alive until every closer has finished, so that a shutdown always completes.
      const keepAlive = setInterval(() => undefined, 1000);
      try {
        for (const close of closers.reverse()) {
          await close().catch((err: unknown) =>
            logger.warn({ err: (err as Error).message }, 'error while closing'),
          );
        }
        closers.length = 0;
      } finally {
        clearInterval(keepAlive);
      }
    },
  };
}
