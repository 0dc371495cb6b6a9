import { Worker } from 'node:worker_threads';
import type { CommittedLeaf } from './sqlite-ledger.js';
import type { WriterRequest, WriterResponse, WriterRow } from './sqlite-writer-protocol.js';

interface Pending {
  readonly resolve: (leaves: readonly CommittedLeaf[]) => void;
  readonly reject: (err: Error) => void;
}

// Once built, the worker is plain JavaScript. Under tsx (tests run the TypeScript sources) a
// worker thread does not inherit tsx's loader, so a small bootstrap registers it first.
const RUNNING_TYPESCRIPT = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(
  RUNNING_TYPESCRIPT ? './sqlite-writer-worker.ts' : './sqlite-writer-worker.js',
  import.meta.url,
);

function startWorker(workerData: unknown): Worker {
  if (!RUNNING_TYPESCRIPT) return new Worker(WORKER_URL, { workerData });
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/**
 * Appends rows through the writer thread. Rows appended in the same tick travel as one message;
 * the thread commits whatever queued up during its previous fsync as one transaction. A resolved
 * append is durable (WAL, synchronous=FULL). If the thread dies, every pending and later append
 * rejects (fail closed).
 */
export class SqliteWriter {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #outbox: { rows: WriterRow[]; waiters: { count: number; pending: Pending }[] } | undefined;
  #dead: Error | undefined;
  #closed: Promise<void> | undefined;
  #onClosed: (() => void) | undefined;
  /** Resolves once the thread has opened the database and prepared its statements. */
  readonly ready: Promise<void>;
  #onReady: { resolve: () => void; reject: (err: Error) => void } | undefined;

  constructor(path: string, busyTimeoutMs: number) {
    this.ready = new Promise((resolve, reject) => (this.#onReady = { resolve, reject }));
    this.ready.catch(() => undefined);
    this.#worker = startWorker({ path, busyTimeoutMs });
    // Referenced only while starting and while appends are in flight, so an idle store never
    // keeps the process alive.
    this.#worker.on('message', (message: WriterResponse) => this.#onMessage(message));
    this.#worker.on('error', (err) => this.#fail(err));
    this.#worker.on('exit', () => this.#fail(new Error('the audit writer thread stopped')));
  }

  append(rows: readonly WriterRow[]): Promise<readonly CommittedLeaf[]> {
    if (this.#dead) return Promise.reject(this.#dead);
    if (this.#closed) return Promise.reject(new Error('the store is closed'));
    return new Promise((resolve, reject) => {
      if (!this.#outbox) {
        this.#outbox = { rows: [], waiters: [] };
        queueMicrotask(() => this.#send());
      }
      this.#outbox.rows.push(...rows);
      this.#outbox.waiters.push({ count: rows.length, pending: { resolve, reject } });
    });
  }

  #send(): void {
    const outbox = this.#outbox;
    this.#outbox = undefined;
    if (!outbox) return;
    const id = this.#nextId++;
    if (this.#pending.size === 0) this.#worker.ref();
    this.#pending.set(id, {
      resolve: (leaves) => {
        let i = 0;
        for (const w of outbox.waiters) {
          w.pending.resolve(leaves.slice(i, i + w.count));
          i += w.count;
        }
      },
      reject: (err) => outbox.waiters.forEach((w) => w.pending.reject(err)),
    });
    this.#worker.postMessage({ type: 'append', id, rows: outbox.rows } satisfies WriterRequest);
  }

  #onMessage(message: WriterResponse): void {
    if (message.type === 'committed') {
      for (const r of message.results) {
        this.#pending.get(r.id)?.resolve(r.leaves);
        this.#pending.delete(r.id);
      }
    } else if (message.type === 'failed') {
      for (const id of message.ids) {
        this.#pending.get(id)?.reject(new Error(`audit append failed: ${message.message}`));
        this.#pending.delete(id);
      }
    }
    if (message.type === 'ready') {
      this.#onReady?.resolve();
      if (this.#pending.size === 0) this.#worker.unref();
    } else if (message.type === 'closed') this.#onClosed?.();
    else if (this.#pending.size === 0) this.#worker.unref();
  }

  #fail(err: Error): void {
    this.#dead ??= err;
    this.#onReady?.reject(this.#dead);
    for (const p of this.#pending.values()) p.reject(this.#dead);
    this.#pending.clear();
  }

  /** Commits what is queued, then stops the thread. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      if (this.#dead) return;
      this.#send();
      this.#worker.ref();
      const flushed = new Promise<void>((resolve) => {
        this.#onClosed = resolve;
        this.#worker.once('exit', () => resolve());
      });
      this.#worker.postMessage({ type: 'close' } satisfies WriterRequest);
      await flushed;
      // The thread may hold loader handles (tsx in tests) that would keep it alive: stop it.
      await this.#worker.terminate();
    })();
    return this.#closed;
  }
}
