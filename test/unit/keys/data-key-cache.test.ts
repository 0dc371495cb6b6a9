import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DataKeyCache } from '../../../src/keys/data-key-cache.js';
import { KeyManager } from '../../../src/keys/key-manager.js';
import { createLocalProvider } from '../../../src/keys/providers/local.js';
import type { KeyProvider } from '../../../src/keys/types.js';
import { rejectsWith } from '../../helpers/key-provider-contract.js';

const WRAPPED = { keyId: { name: 'k', version: 1 }, bytes: Buffer.from('w') };
const LIMITS = { maxAgeMs: 1000, maxUses: 3, maxBytes: 100, maxEntries: 2 };

/** Counts the provider calls that an HSM would serve. */
function counting(provider: KeyProvider): { provider: KeyProvider; calls: Record<string, number> } {
  const calls: Record<string, number> = { wrapKey: 0, unwrapKey: 0, describeKey: 0 };
  const counted = Object.create(provider) as KeyProvider;
  for (const name of ['wrapKey', 'unwrapKey', 'describeKey'] as const) {
    const original = provider[name].bind(provider) as (...args: unknown[]) => Promise<unknown>;
    (counted as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      calls[name] = (calls[name] ?? 0) + 1;
      return original(...args);
    };
  }
  return { provider: counted, calls };
}

describe('data-key cache', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  async function manager(
    limits = { maxAgeMs: 60_000, maxUses: 1000, maxBytes: 1 << 20, maxEntries: 100 },
    now?: () => number,
  ) {
    const dir = await mkdtemp(join(tmpdir(), 'ztgate-dkc-'));
    dirs.push(dir);
    const { provider, calls } = counting(await createLocalProvider({ dir, env: {} }));
    const keys = new KeyManager({ provider, cache: limits, ...(now ? { now } : {}) });
    await keys.createKey('kek', 'aes-256-gcm', 'test');
    return { keys, calls };
  }

  it('expires entries by age, uses and bytes, and zero-fills what it drops', () => {
    let now = 0;
    const cache = new DataKeyCache(LIMITS, () => now);
    const key = randomBytes(32);
    cache.put('decrypt', 'a', key, WRAPPED, 10);
    const held = cache.take('decrypt', 'a', 10);
    assert.ok(held);
    assert.deepEqual(held.dataKey, key);
    assert.ok(cache.take('decrypt', 'a', 10), 'third use');
    assert.equal(cache.take('decrypt', 'a', 10), undefined, 'maxUses 3 reached');
    assert.ok(
      held.dataKey.every((b) => b === 0),
      'dropped key was wiped',
    );

    cache.put('decrypt', 'b', randomBytes(32), WRAPPED, 95);
    assert.equal(cache.take('decrypt', 'b', 10), undefined, 'maxBytes 100 would be passed');

    cache.put('decrypt', 'c', randomBytes(32), WRAPPED, 1);
    now = 999;
    assert.ok(cache.take('decrypt', 'c', 1));
    now = 1000;
    assert.equal(cache.take('decrypt', 'c', 1), undefined, 'maxAge reached');
  });

  it('is bounded (least recently used goes first) and wipes by key and by version', () => {
    const cache = new DataKeyCache(LIMITS);
    cache.put('decrypt', 'a', randomBytes(32), WRAPPED, 1);
    cache.put('decrypt', 'b', randomBytes(32), WRAPPED, 1);
    cache.take('decrypt', 'a', 1);
    cache.put('decrypt', 'c', randomBytes(32), WRAPPED, 1);
    assert.equal(cache.size('decrypt'), 2);
    assert.equal(cache.take('decrypt', 'b', 1), undefined, 'b was least recently used');
    const v2 = { keyId: { name: 'k', version: 2 }, bytes: Buffer.from('x') };
    cache.put('encrypt', 'p', randomBytes(32), v2, 1);
    cache.wipeVersion({ name: 'k', version: 1 });
    assert.equal(cache.size('decrypt'), 0);
    assert.equal(cache.size('encrypt'), 1);
    cache.wipeEncryptSide('k');
    assert.equal(cache.size('encrypt'), 0);
    const off = new DataKeyCache({ ...LIMITS, maxEntries: 0 });
    off.put('decrypt', 'a', randomBytes(32), WRAPPED, 1);
    assert.equal(off.size('decrypt'), 0);
  });

  it('spares the provider: per-period data keys and cached unwraps', async () => {
    const { keys, calls } = await manager();
    const context = { tenant: 't', recordId: 'r', purpose: 'p' };
    const envelopes: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      envelopes.push(
        await keys.encrypt(
          'kek',
          Buffer.from(`object ${i}`),
          { ...context, recordId: `r${i}` },
          { reuseDataKey: true },
        ),
      );
    }
    assert.equal(calls.wrapKey, 1, 'one data key for the period');
    for (let i = 0; i < 50; i++) {
      assert.equal(
        (await keys.decrypt(envelopes[i]!, { ...context, recordId: `r${i}` })).toString(),
        `object ${i}`,
      );
    }
    assert.equal(calls.unwrapKey, 1, 'one unwrap, then cached');
    for (let i = 0; i < 5; i++) await keys.encrypt('kek', Buffer.from('x'), context);
    assert.equal(calls.wrapKey, 6, 'without reuse, a fresh data key per object');
    // Another tenant never shares a data key.
    await keys.encrypt('kek', Buffer.from('x'), { ...context, tenant: 'u' }, { reuseDataKey: true });
    assert.equal(calls.wrapKey, 7);
  });

  it('starts a new data key after rotation and refuses cached keys of a destroyed version', async () => {
    const { keys, calls } = await manager();
    const context = { tenant: 't', recordId: 'r', purpose: 'p' };
    const old = await keys.encrypt('kek', Buffer.from('old'), context, { reuseDataKey: true });
    await keys.decrypt(old, context);
    await keys.rotateKey('kek', 'test');
    const fresh = await keys.encrypt('kek', Buffer.from('new'), context, { reuseDataKey: true });
    assert.equal(calls.wrapKey, 2);
    assert.equal(
      (await import('../../../src/keys/envelope-format.js')).parseEnvelope(fresh).keyId.version,
      2,
    );
    await keys.destroyVersion({ name: 'kek', version: 1 }, 'test');
    await rejectsWith(keys.decrypt(old, context), 'key_destroyed');
    assert.equal((await keys.decrypt(fresh, context)).toString(), 'new');
  });

  it('stops serving a version destroyed by another process within the state-check interval', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ztgate-dkc-'));
    dirs.push(dir);
    const env = { ZTGATE_MASTER_KEY: randomBytes(32).toString('base64') };
    let now = 0;
    const cache = { maxAgeMs: 3_600_000, maxUses: 1000, maxBytes: 1 << 20, maxEntries: 100 };
    const gateway = new KeyManager({
      provider: await createLocalProvider({ dir, env }),
      cache,
      now: () => now,
    });
    const cli = new KeyManager({ provider: await createLocalProvider({ dir, env }), cache });
    await cli.createKey('kek', 'aes-256-gcm', 'cli');
    const context = { tenant: 't', recordId: 'r', purpose: 'p' };
    const envelope = await gateway.encrypt('kek', Buffer.from('data'), context);
    await gateway.decrypt(envelope, context); // now cached
    await cli.rotateKey('kek', 'cli');
    await cli.destroyVersion({ name: 'kek', version: 1 }, 'cli');
    now += 500;
    assert.equal(
      (await gateway.decrypt(envelope, context)).toString(),
      'data',
      'within the interval: cached',
    );
    now += 600;
    await rejectsWith(gateway.decrypt(envelope, context), 'key_destroyed');
    // A provider that stops answering stops the cache too, within the same interval (fail closed).
    const fresh = await gateway.encrypt('kek', Buffer.from('data'), context);
    await gateway.decrypt(fresh, context);
    await gateway.provider.close();
    assert.equal((await gateway.decrypt(fresh, context)).toString(), 'data');
    now += 1100;
    await rejectsWith(gateway.decrypt(fresh, context), 'provider_closed');
    await gateway.close();
    await cli.close();
  });
});

describe('key operation audit', () => {
  it('records each operation with its outcome, and says so when the record cannot be written', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const dir = await mkdtemp(join(tmpdir(), 'ztgate-audit-'));
    const events: string[] = [];
    let storeUp = true;
    const keys = new KeyManager({
      provider: await createLocalProvider({ dir, env: {} }),
      cache: LIMITS,
      audit: async (e) => {
        if (!storeUp) throw new Error('database is locked');
        events.push(
          `${e.operation} ${e.keyId} ${e.actor} ${e.outcome}${e.errorCode ? ` ${e.errorCode}` : ''}`,
        );
      },
    });
    try {
      await keys.createKey('k', 'ed25519', 'cli:alice@host');
      await rejectsWith(keys.createKey('k', 'ed25519', 'cli:alice@host'), 'key_exists');
      await keys.rotateKey('k', 'system:rotation');
      assert.deepEqual(events, [
        'create k@1 cli:alice@host ok',
        'create k cli:alice@host failed key_exists',
        'rotate k@2 system:rotation ok',
      ]);
      storeUp = false;
      await assert.rejects(keys.rotateKey('k', 'cli:alice@host'), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'audit_unavailable');
        assert.match(err.message, /rotate of k@3 was done, but its audit row could not be written/);
        return true;
      });
    } finally {
      await keys.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
