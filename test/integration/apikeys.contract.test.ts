// The ApiKeyRepository contract: every Store implementation runs the same cases against a real
// database. PostgreSQL at 127.0.0.1:5432 is required; when it is down these tests fail, they never
// skip.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { ApiKeyRecord, ApiKeyRepository, NewApiKey } from '../../src/store/index.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { pgSpaces } from '../helpers/pg-spaces.js';
import { useStoreSpaces, type StoreFixture } from '../helpers/store-spaces.js';

type Fixture = StoreFixture;

let ids = 0;
const HASH = `s256:${'A'.repeat(43)}`;

function newKey(overrides: Partial<NewApiKey> = {}): NewApiKey {
  const n = ++ids;
  return {
    id: `key${String(n).padStart(6, '0')}`,
    service: 'billing',
    scopes: ['chat:write', 'models:*'],
    hash: HASH,
    createdAt: '2025-01-01T00:00:00.000Z',
    expiresAt: null,
    ...overrides,
  };
}

function expected(key: NewApiKey, changes: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return { ...key, scopes: [...key.scopes], revokedAt: null, lastUsedAt: null, ...changes };
}

function apiKeysContract(name: string, durable: boolean, makeFixture: () => Promise<Fixture>): void {
  describe(`ApiKeyRepository contract: ${name}`, () => {
    const spaces = useStoreSpaces(makeFixture, 'k');
    const open = spaces.open;
    const fresh = async (): Promise<ApiKeyRepository> => (await spaces.fresh()).apiKeys;

    it('create and get round-trip every field; unknown ids are undefined', async () => {
      const keys = await fresh();
      const plain = newKey();
      const expiring = newKey({ service: 'a.b_c-d', scopes: [], expiresAt: '2030-06-01T12:00:00.000Z' });
      await keys.create(plain);
      await keys.create(expiring);
      assert.deepEqual(await keys.get(plain.id), expected(plain));
      assert.deepEqual(await keys.get(expiring.id), expected(expiring));
      assert.equal(await keys.get('nosuchkey'), undefined);
    });

    it('refuses a second key with the same id and keeps the first', async () => {
      const keys = await fresh();
      const first = newKey();
      await keys.create(first);
      await assert.rejects(keys.create({ ...first, service: 'other', hash: `s256:${'B'.repeat(43)}` }));
      assert.deepEqual(await keys.get(first.id), expected(first));
    });

    it('lists in id order, filters by service, pages with after and limit', async () => {
      const keys = await fresh();
      const made = [
        newKey({ id: 'c1' }),
        newKey({ id: 'a1', service: 'search' }),
        newKey({ id: 'b1' }),
        newKey({ id: 'b2', service: 'search' }),
      ];
      for (const key of made) await keys.create(key);
      const idsOf = (records: readonly ApiKeyRecord[]) => records.map((r) => r.id);
      assert.deepEqual(idsOf(await keys.list()), ['a1', 'b1', 'b2', 'c1']);
      assert.deepEqual(idsOf(await keys.list({ service: 'search' })), ['a1', 'b2']);
      assert.deepEqual(idsOf(await keys.list({ service: 'billing', after: 'b1' })), ['c1']);
      assert.deepEqual(idsOf(await keys.list({ after: 'a1', limit: 2 })), ['b1', 'b2']);
      assert.deepEqual(await keys.list({ limit: 0 }), []);
      assert.deepEqual(await keys.list({ service: 'nobody' }), []);
      assert.deepEqual(
        (await keys.list()).find((r) => r.id === 'b2'),
        expected(made[3] as NewApiKey),
      );
    });

    it('list returns 100 by default and at most 1000', async () => {
      const keys = await fresh();
      for (let i = 0; i < 1005; i++) await keys.create(newKey({ id: `m${String(i).padStart(5, '0')}` }));
      assert.equal((await keys.list()).length, 100);
      assert.equal((await keys.list({ limit: 5000 })).length, 1000);
      assert.equal((await keys.list({ limit: -3 })).length, 0);
    });

    it('revoke sets revokedAt once and returns the record; unknown ids give undefined', async () => {
      const keys = await fresh();
      const key = newKey();
      await keys.create(key);
      const first = '2025-02-01T00:00:00.000Z';
      assert.deepEqual(await keys.revoke(key.id, first), expected(key, { revokedAt: first }));
      assert.deepEqual(
        await keys.revoke(key.id, '2025-03-01T00:00:00.000Z'),
        expected(key, { revokedAt: first }),
        'a second revocation keeps the first time',
      );
      assert.equal((await keys.get(key.id))?.revokedAt, first);
      assert.equal(await keys.revoke('nosuchkey', first), undefined);
    });

    it('expire only brings expiresAt forward', async () => {
      const keys = await fresh();
      const open = newKey();
      const later = newKey({ expiresAt: '2030-01-01T00:00:00.000Z' });
      const sooner = newKey({ expiresAt: '2025-01-02T00:00:00.000Z' });
      for (const key of [open, later, sooner]) await keys.create(key);
      const at = '2025-06-01T00:00:00.000Z';
      assert.equal((await keys.expire(open.id, at))?.expiresAt, at);
      assert.equal((await keys.expire(later.id, at))?.expiresAt, at);
      assert.equal(
        (await keys.expire(sooner.id, at))?.expiresAt,
        sooner.expiresAt,
        'never later than it was',
      );
      assert.equal((await keys.get(later.id))?.expiresAt, at);
      assert.equal(await keys.expire('nosuchkey', at), undefined);
    });

    it('markUsed moves lastUsedAt forward only', async () => {
      const keys = await fresh();
      const key = newKey();
      await keys.create(key);
      await keys.markUsed(key.id, '2025-05-01T00:00:00.000Z');
      assert.equal((await keys.get(key.id))?.lastUsedAt, '2025-05-01T00:00:00.000Z');
      await keys.markUsed(key.id, '2025-04-01T00:00:00.000Z');
      assert.equal((await keys.get(key.id))?.lastUsedAt, '2025-05-01T00:00:00.000Z');
      await keys.markUsed(key.id, '2025-05-01T00:00:00.001Z');
      assert.equal((await keys.get(key.id))?.lastUsedAt, '2025-05-01T00:00:00.001Z');
      await keys.markUsed('nosuchkey', '2025-05-01T00:00:00.000Z');
    });

    it('rejects invalid input with errors that name the argument, never its value', async () => {
      const keys = await fresh();
      const secretish = 'ztk_SECRET_VALUE_that_must_not_leak';
      const cases: [() => Promise<unknown>, RegExp][] = [
        [() => keys.create(newKey({ id: secretish })), /api keys: id must be/],
        [() => keys.create(newKey({ id: '' })), /api keys: id must be/],
        [() => keys.create(newKey({ service: secretish })), /api keys: service must be/],
        [() => keys.create(newKey({ scopes: [secretish] })), /api keys: scopes\[0\] must be/],
        [() => keys.create(newKey({ scopes: Array.from({ length: 33 }, (_, i) => `s${i}`) })), /at most 32/],
        [() => keys.create(newKey({ hash: secretish })), /api keys: hash must be/],
        [() => keys.create(newKey({ createdAt: 'yesterday' })), /api keys: createdAt must be/],
        [() => keys.create(newKey({ expiresAt: '2025-02-30T00:00:00.000Z' })), /api keys: expiresAt must be/],
        [() => keys.create(null as unknown as NewApiKey), /must be an object/],
        [() => keys.get(secretish), /api keys: id must be/],
        [() => keys.get('x'.repeat(100_000)), /api keys: id must be/],
        [() => keys.revoke('abc', 'now'), /api keys: at must be/],
        [() => keys.expire(secretish, '2025-01-01T00:00:00.000Z'), /api keys: id must be/],
        [() => keys.markUsed('abc', secretish), /api keys: at must be/],
        [() => keys.list({ service: secretish }), /api keys: query.service must be/],
        [() => keys.list({ after: secretish }), /api keys: query.after must be/],
      ];
      for (const [call, message] of cases) {
        await assert.rejects(call, (err: Error) => {
          assert.ok(err instanceof TypeError, `${err.message} is a TypeError`);
          assert.match(err.message, message);
          assert.ok(!err.message.includes('SECRET'), 'the value is not shown');
          return true;
        });
      }
      assert.deepEqual(await keys.list(), []);
    });

    if (durable) {
      it('keys survive close and reopen; migrate is idempotent and records the latest version (5)', async () => {
        const store = await open('durable');
        await store.migrate();
        const key = newKey();
        await store.apiKeys.create(key);
        await store.close();
        const again = await open('durable');
        await again.migrate();
        await again.migrate();
        assert.deepEqual(await again.apiKeys.get(key.id), expected(key));
        const fixture = spaces.fixture();
        assert.ok(fixture.sql);
        assert.deepEqual(await fixture.sql('durable', 'select max(version) as v from schema_migrations'), [
          { v: 5 },
        ]);
      });
    }
  });
}

apiKeysContract('sqlite file', true, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ztgate-apikeys-'));
  const path = (space: string): string => join(dir, `${space}.db`);
  return {
    open: async (space) => new SqliteStore({ path: path(space) }),
    sql: async (space, text) => {
      const db = new Database(path(space), { readonly: true });
      try {
        return db.prepare(text).all();
      } finally {
        db.close();
      }
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

apiKeysContract('sqlite :memory:', false, async () => ({
  open: async () => new SqliteStore({ path: ':memory:' }),
  cleanup: async () => undefined,
}));

apiKeysContract('postgres', true, async () => {
  const spaces = await pgSpaces();
  return { open: spaces.open, sql: spaces.sql, cleanup: spaces.cleanup };
});
