// API keys of service accounts: format, hashing, verification, the verified-key cache.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  API_KEY_LENGTH,
  ApiKeyVerifier,
  createApiKey,
  hashApiKeySecret,
  parseApiKey,
  principalOfApiKey,
  verifyApiKey,
  type ApiKeyVerification,
} from '../../src/identity/api-keys.js';
import { RevocationList } from '../../src/identity/revocation-list.js';
import type { ApiKeyRepository } from '../../src/store/index.js';
import { MemoryBus } from '../../src/store/memory-bus.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';

async function memoryStore(): Promise<SqliteStore> {
  const store = new SqliteStore({ path: ':memory:' });
  await store.migrate();
  return store;
}

/** Wraps a repository to count lookups and writes. */
function counting(repository: ApiKeyRepository) {
  const counts = { get: 0, markUsed: 0 };
  return {
    counts,
    repository: {
      get: (id: string) => {
        counts.get++;
        return repository.get(id);
      },
      markUsed: (id: string, at: string) => {
        counts.markUsed++;
        return repository.markUsed(id, at);
      },
    },
  };
}

const reasonOf = (result: ApiKeyVerification): string => (result.ok ? 'ok' : result.reason);

describe('API keys', () => {
  it('have the form ztk_<12 base32>_<43 base62>, store only a hash, and differ every time', async () => {
    const store = await memoryStore();
    try {
      const seen = new Set<string>();
      for (let i = 0; i < 50; i++) {
        const { key, record } = await createApiKey(store.apiKeys, {
          service: 'billing',
          scopes: ['b', 'a', 'a'],
        });
        assert.equal(key.length, API_KEY_LENGTH);
        assert.match(key, /^ztk_[a-z2-7]{12}_[0-9A-Za-z]{43}$/);
        const parsed = parseApiKey(key);
        assert.ok(parsed);
        assert.equal(parsed.keyId, record.id);
        assert.deepEqual(record.scopes, ['a', 'b'], 'scopes are de-duplicated and sorted');
        const stored = await store.apiKeys.get(record.id);
        assert.equal(stored?.hash, hashApiKeySecret(parsed.keyId, parsed.secret));
        assert.ok(!JSON.stringify(stored).includes(parsed.secret), 'the secret is not stored');
        seen.add(key);
      }
      assert.equal(seen.size, 50);
    } finally {
      await store.close();
    }
  });

  it('verifies a good key and refuses malformed, unknown, wrong, expired and revoked ones', async () => {
    const store = await memoryStore();
    try {
      const now = Date.parse('2025-06-01T00:00:00.000Z');
      const { key, record } = await createApiKey(store.apiKeys, {
        service: 'billing',
        scopes: ['chat:write'],
        expiresAt: new Date(now + 60_000),
        now: new Date(now - 1000),
      });
      const good = await verifyApiKey(key, store.apiKeys, { now });
      assert.deepEqual(good, {
        ok: true,
        key: { keyId: record.id, service: 'billing', scopes: ['chat:write'], expiresAt: record.expiresAt },
      });
      const wrongSecret = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
      const unknown = `ztk_${'a'.repeat(12)}_${key.slice(-43)}`;
      const cases: [unknown, string][] = [
        [undefined, 'malformed'],
        [42, 'malformed'],
        ['', 'malformed'],
        [key + 'x', 'malformed'],
        [key.slice(1), 'malformed'],
        [key.replace('ztk_', 'ztq_'), 'malformed'],
        [key.slice(0, -1) + '-', 'malformed'],
        [key.toUpperCase(), 'malformed'],
        ['ztk_' + 'a'.repeat(10_000_000), 'malformed'],
        [unknown, 'unknown_key'],
        [wrongSecret, 'invalid_secret'],
      ];
      for (const [presented, reason] of cases) {
        assert.equal(reasonOf(await verifyApiKey(presented, store.apiKeys, { now })), reason);
      }
      assert.equal(reasonOf(await verifyApiKey(key, store.apiKeys, { now: now + 60_000 })), 'expired');
      await store.apiKeys.revoke(record.id, new Date(now).toISOString());
      assert.equal(reasonOf(await verifyApiKey(key, store.apiKeys, { now })), 'revoked');
      assert.equal(
        reasonOf(await verifyApiKey(wrongSecret, store.apiKeys, { now })),
        'invalid_secret',
        'a wrong secret does not learn that the key is revoked',
      );
    } finally {
      await store.close();
    }
  });

  it('never looks up a malformed key and reports a store failure as unavailable', async () => {
    let lookups = 0;
    const failing = {
      get: async () => {
        lookups++;
        throw new Error('database down');
      },
    };
    assert.equal(reasonOf(await verifyApiKey('ztk_nope', failing)), 'malformed');
    assert.equal(lookups, 0);
    const result = await verifyApiKey(`ztk_${'a'.repeat(12)}_${'b'.repeat(43)}`, failing);
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.reason === 'unavailable' && result.cause instanceof Error);
  });

  it('the verifier caches for its TTL but re-checks revocation and expiry on every call', async () => {
    const store = await memoryStore();
    const bus = new MemoryBus();
    const revocations = new RevocationList({ bus, snapshotIntervalMs: 0 });
    await revocations.start();
    try {
      let now = Date.parse('2025-06-01T00:00:00.000Z');
      const { key, record } = await createApiKey(store.apiKeys, {
        service: 'billing',
        expiresAt: new Date(now + 30_000),
        now: new Date(now - 1000),
      });
      const { counts, repository } = counting(store.apiKeys);
      const verifier = new ApiKeyVerifier({ repository, revocations, cacheTtlMs: 10_000, now: () => now });
      assert.equal(reasonOf(await verifier.verify(key)), 'ok');
      assert.equal(reasonOf(await verifier.verify(key)), 'ok');
      assert.equal(counts.get, 1, 'the second call is served from the cache');
      // Revoked in the store only: the cache hides it until its TTL ends (bounded staleness).
      await store.apiKeys.revoke(record.id, new Date(now).toISOString());
      assert.equal(reasonOf(await verifier.verify(key)), 'ok');
      now += 10_001;
      assert.equal(reasonOf(await verifier.verify(key)), 'revoked');
      assert.equal(counts.get, 2);

      // Revoked on the revocation list: refused at once, even from the cache.
      const second = await createApiKey(store.apiKeys, {
        service: 'search',
        expiresAt: new Date(now + 20_000),
        now: new Date(now - 1000),
      });
      assert.equal(reasonOf(await verifier.verify(second.key)), 'ok');
      await revocations.revoke({ kind: 'apikey', value: second.record.id, actor: 'test', reason: 'leaked' });
      assert.equal(reasonOf(await verifier.verify(second.key)), 'revoked');

      // Expiry is checked on every call too.
      const third = await createApiKey(store.apiKeys, {
        service: 'search',
        expiresAt: new Date(now + 5000),
        now: new Date(now - 1000),
      });
      assert.equal(reasonOf(await verifier.verify(third.key)), 'ok');
      now += 5000;
      assert.equal(reasonOf(await verifier.verify(third.key)), 'expired');
    } finally {
      await revocations.close();
      await bus.close();
      await store.close();
    }
  });

  it('the verifier shares one lookup among concurrent calls, stays bounded, and throttles lastUsedAt', async () => {
    const store = await memoryStore();
    try {
      let now = Date.parse('2025-06-01T00:00:00.000Z');
      const made = [];
      for (let i = 0; i < 5; i++) made.push(await createApiKey(store.apiKeys, { service: 'billing' }));
      const { counts, repository } = counting(store.apiKeys);
      const verifier = new ApiKeyVerifier({
        repository,
        cacheSize: 3,
        touchIntervalMs: 60_000,
        now: () => now,
      });
      const first = made[0]?.key as string;
      const results = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(first)));
      assert.ok(results.every((r) => r.ok));
      assert.equal(counts.get, 1, 'one lookup for twenty concurrent calls');
      for (const { key } of made) await verifier.verify(key);
      assert.ok(verifier.size <= 3, 'the cache is bounded');
      const touchesBefore = counts.markUsed;
      await verifier.verify(made[4]?.key);
      await verifier.verify(made[4]?.key);
      assert.equal(counts.markUsed, touchesBefore, 'lastUsedAt is not rewritten within the interval');
      now += 60_000;
      await verifier.verify(made[4]?.key);
      assert.equal(counts.markUsed, touchesBefore + 1);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(
        (await store.apiKeys.get(made[4]?.record.id as string))?.lastUsedAt,
        new Date(now).toISOString(),
      );
      assert.equal(verifier.evict(made[4]?.record.id as string), 1);
    } finally {
      await store.close();
    }
  });

  it('a verified key stands for its service account', () => {
    const principal = principalOfApiKey({
      keyId: 'abcdefghijkl',
      service: 'billing',
      scopes: ['chat:write'],
      expiresAt: '2030-01-01T00:00:00.000Z',
    });
    assert.deepEqual(principal, {
      kind: 'service',
      id: 'service:billing',
      issuer: 'ztgate:api-key',
      subject: 'billing',
      authMethod: 'api_key',
      roles: [],
      groups: [],
      expiresAt: Date.parse('2030-01-01T00:00:00.000Z') / 1000,
      attributes: { apiKeyId: 'abcdefghijkl', scopes: ['chat:write'] },
    });
  });
});
