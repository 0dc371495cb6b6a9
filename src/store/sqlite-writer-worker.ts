// The SQLite ledger writer thread: owns the only writing connection, and commits every batch of
// appends that arrived while the previous commit was being fsync'd in one transaction (group
// commit). The main thread's event loop never waits for a disk flush.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { ledgerCommitter } from './sqlite-ledger.js';
import type { WriterRequest, WriterResponse } from './sqlite-writer-protocol.js';

if (!parentPort) throw new Error('sqlite-writer-worker must run as a worker thread');
const port = parentPort;
const { path, busyTimeoutMs } = workerData as { path: string; busyTimeoutMs: number };

const db = new Database(path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma(`busy_timeout = ${busyTimeoutMs}`);
const commit = ledgerCommitter(db);

port.postMessage({ type: 'ready' } satisfies WriterResponse);

let queue: { id: number; rows: Parameters<typeof commit>[0] }[] = [];
let scheduled = false;
let closeRequested = false;

function flush(): void {
  scheduled = false;
  // Take every append already waiting on the port, so that one commit (one fsync) covers all of
  // them instead of one message per event-loop turn.
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
    const message = m.message as WriterRequest;
    if (message.type === 'append') queue.push({ id: message.id, rows: message.rows });
    else closeRequested = true;
  }
  const batch = queue;
  queue = [];
  if (batch.length === 0) {
    if (closeRequested) close();
    return;
  }
  let response: WriterResponse;
  try {
    const leaves = commit(batch.flatMap((b) => b.rows));
    let i = 0;
    response = {
      type: 'committed',
      results: batch.map((b) => {
        const mine = leaves.slice(i, i + b.rows.length);
        i += b.rows.length;
        return { id: b.id, leaves: mine };
      }),
    };
  } catch (err) {
    response = {
      type: 'failed',
      ids: batch.map((b) => b.id),
      message: err instanceof Error ? err.message : String(err),
    };
  }
  port.postMessage(response);
  if (closeRequested) close();
}

let closed = false;
function close(): void {
  if (closed) return;
  closed = true;
  db.close();
  port.postMessage({ type: 'closed' } satisfies WriterResponse);
  port.close();
}

port.on('message', (message: WriterRequest) => {
  if (message.type === 'append') {
    queue.push({ id: message.id, rows: message.rows });
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
    return;
  }
  closeRequested = true;
  flush();
});
