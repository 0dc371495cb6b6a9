import { Pool } from 'undici';

export interface LoadResult {
  readonly rate: number;
  readonly sent: number;
  readonly ok: number;
  readonly errors: number;
  readonly seconds: number;
  /** Latencies in milliseconds, sorted ascending. */
  readonly latencies: Float64Array;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/**
 * An open-loop load generator at a fixed rate: requests are issued on schedule whether or not
 * earlier ones have finished (so a slow server shows up as latency, not as a lower rate).
 * Latency is measured from the moment each request is issued to its last body byte.
 */
export async function runAtFixedRate(options: {
  readonly origin: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly rate: number;
  readonly seconds: number;
  readonly connections: number;
}): Promise<LoadResult> {
  const pool = new Pool(options.origin, {
    connections: options.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
  });
  const total = Math.round(options.rate * options.seconds);
  const latencies = new Float64Array(total);
  let sent = 0;
  let ok = 0;
  let errors = 0;
  let done = 0;
  const started = performance.now();

  const fire = (): void => {
    const index = sent++;
    const t0 = performance.now();
    pool
      .request({ method: 'POST', path: options.path, headers: options.headers, body: options.body })
      .then(async (res) => {
        await res.body.arrayBuffer();
        latencies[index] = performance.now() - t0;
        if (res.statusCode === 200) ok++;
        else errors++;
      })
      .catch(() => {
        latencies[index] = performance.now() - t0;
        errors++;
      })
      .finally(() => {
        done++;
      });
  };

  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * options.rate));
      while (sent < due) fire();
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  while (done < total) await new Promise((r) => setTimeout(r, 5));
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return { rate: options.rate, sent, ok, errors, seconds, latencies: latencies.slice(0, total).sort() };
}
