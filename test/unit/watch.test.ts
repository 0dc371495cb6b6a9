import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEntry, WatchEvent } from '../../src/core/index.js';
import { createWatchChannel } from '../../src/watch/index.js';

const event = (requestId: string): WatchEvent => ({
  kind: 'request.completed',
  entry: { requestId } as AuditEntry,
});

describe('watch channel', () => {
  it('delivers events asynchronously, never inside the caller', async () => {
    const channel = createWatchChannel();
    const seen: string[] = [];
    channel.listen((e) => seen.push(e.entry.requestId));
    channel.sink(event('a'));
    assert.deepEqual(seen, [], 'not delivered synchronously');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, ['a']);
  });

  it('a listener that throws affects neither the caller nor other listeners', async () => {
    const errors: unknown[] = [];
    const channel = createWatchChannel(10, (err) => errors.push(err));
    const seen: string[] = [];
    channel.listen(() => {
      throw new Error('bad listener');
    });
    channel.listen((e) => seen.push(e.entry.requestId));
    channel.sink(event('b'));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, ['b']);
    assert.equal(errors.length, 1);
  });

  it('is bounded: when full it drops and counts instead of growing', async () => {
    let drops = 0;
    const channel = createWatchChannel(3, undefined, () => drops++);
    const seen: string[] = [];
    channel.listen((e) => seen.push(e.entry.requestId));
    for (const id of ['1', '2', '3', '4', '5']) channel.sink(event(id));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, ['1', '2', '3']);
    assert.equal(channel.dropped(), 2);
    assert.equal(drops, 2);
  });
});
