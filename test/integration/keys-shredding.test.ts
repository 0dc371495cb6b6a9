// Rotation, re-wrap and crypto-shredding end to end, on the real stores (SQLite and PostgreSQL;
// PostgreSQL at 127.0.0.1:5432 is required: these tests fail, never skip, without it).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { EncryptedObjects, KeyManager, parseEnvelope, type EnvelopeContext } from '../../src/keys/index.js';
import { createLocalProvider } from '../../src/keys/providers/local.js';
import { createStore, type Store } from '../../src/store/index.js';
import { rejectsWith } from '../helpers/key-provider-contract.js';

const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
const CACHE = { maxAgeMs: 60_000, maxUses: 10_000, maxBytes: 1 << 24, maxEntries: 100 };

interface Backend {
  readonly name: string;
  open(): Promise<{ store: Store; cleanup(): Promise<void> }>;
}

const BACKENDS: readonly Backend[] = [
  {
    name: 'SQLite',
    async open() {
      const home = await mkdtemp(join(tmpdir(), 'ztgate-shred-'));
      const store = await createStore({ url: 'sqlite:objects.db', home });
      return { store, cleanup: () => rm(home, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    async open() {
      const schema = `shred_${randomBytes(6).toString('hex')}`;
      const store = await createStore({ url: PG_URL, home: tmpdir(), schema, poolSize: 4 });
      return {
        store,
        cleanup: async () => {
          const admin = new pg.Client({ connectionString: PG_URL });
          await admin.connect();
          await admin.query(`drop schema if exists ${schema} cascade`);
          await admin.end();
        },
      };
    },
  },
];

const ctx = (i: number, tenant = 'acme'): EnvelopeContext => ({
  tenant,
  recordId: `person-${i}`,
  purpose: 'pseudonym',
});

for (const backend of BACKENDS) {
  describe(`rotation, re-wrap and crypto-shredding on ${backend.name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(async () => {
      for (const cleanup of cleanups) await cleanup();
    });

    it('re-wraps old objects under the new version without touching payloads, then shreds a version', async () => {
      const { store, cleanup } = await backend.open();
      const dir = await mkdtemp(join(tmpdir(), 'ztgate-shred-keys-'));
      const keys = new KeyManager({ provider: await createLocalProvider({ dir, env: {} }), cache: CACHE });
      cleanups.push(async () => {
        await keys.close();
        await store.close();
        await cleanup();
        await rm(dir, { recursive: true, force: true });
      });
      const objects = new EncryptedObjects(keys, store.objects);
      await keys.createKey('pseudonyms', 'aes-256-gcm', 'test');
      for (let i = 0; i < 25; i++) await objects.put('pseudonyms', ctx(i), Buffer.from(`Person ${i}`));
      await keys.rotateKey('pseudonyms', 'test');
      for (let i = 25; i < 35; i++) {
        await objects.put('pseudonyms', ctx(i), Buffer.from(`Person ${i}`), { reuseDataKey: true });
      }
      assert.deepEqual(await objects.countByVersion('pseudonyms'), { 1: 25, 2: 10 });
      const before = await store.objects.get('acme/pseudonym', 'person-3');

      const report = await objects.rewrapAll('pseudonyms', 7);
      assert.deepEqual(report, { examined: 25, rewrapped: 25, raced: 0, failed: {} });
      assert.deepEqual(await objects.countByVersion('pseudonyms'), { 2: 35 });
      const afterRewrap = await store.objects.get('acme/pseudonym', 'person-3');
      assert.ok(before && afterRewrap);
      assert.equal(parseEnvelope(afterRewrap.envelope).keyId.version, 2);
      assert.deepEqual(parseEnvelope(afterRewrap.envelope).sealed, parseEnvelope(before.envelope).sealed);
      for (let i = 0; i < 35; i++) assert.equal((await objects.get(ctx(i)))?.toString(), `Person ${i}`);

      // v1 protects nothing now: destroying it loses nothing.
      await keys.destroyVersion({ name: 'pseudonyms', version: 1 }, 'test');
      for (let i = 0; i < 35; i++) assert.equal((await objects.get(ctx(i)))?.toString(), `Person ${i}`);

      // Retention: rotate, write newer objects, destroy v2. Everything under v2 is gone for good;
      // everything under v3 still reads.
      await keys.rotateKey('pseudonyms', 'test');
      for (let i = 100; i < 105; i++) await objects.put('pseudonyms', ctx(i), Buffer.from(`New ${i}`));
      await keys.destroyVersion({ name: 'pseudonyms', version: 2 }, 'test');
      for (let i = 0; i < 35; i++) {
        await assert.rejects(objects.get(ctx(i)), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'key_destroyed');
          assert.match(err.message, /pseudonyms@2 was destroyed: what it protected can no longer be read/);
          return true;
        });
      }
      for (let i = 100; i < 105; i++) assert.equal((await objects.get(ctx(i)))?.toString(), `New ${i}`);
      // The re-wrap job reports shredded objects and leaves them alone.
      const shredded = await objects.rewrapAll('pseudonyms');
      assert.deepEqual(shredded, { examined: 35, rewrapped: 0, raced: 0, failed: { key_destroyed: 35 } });
      await rejectsWith(
        keys.destroyVersion({ name: 'pseudonyms', version: 3 }, 'test'),
        'unsupported_operation',
      );
    });
  });
}
