// The ControlRecordRepository contract: every Store implementation runs the same cases against a
// real database. PostgreSQL at 127.0.0.1:5432 is required; when it is down these tests fail, they
// never skip.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { ControlRecord, ControlRecordRepository } from '../../src/store/index.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { pgSpaces } from '../helpers/pg-spaces.js';
import { useStoreSpaces, type StoreFixture } from '../helpers/store-spaces.js';

interface Fixture extends StoreFixture {
  /** Runs a SQL script that returns nothing on a space (durable fixtures only). */
  readonly exec?: (space: string, text: string) => Promise<void>;
  /** A query for the names of the secondary indexes of control_records, in name order. */
  readonly indexes?: string;
}

type NewRecord = Omit<ControlRecord, 'version' | 'updatedAt'>;

let ids = 0;

function newRecord(overrides: Partial<NewRecord> = {}): NewRecord {
  const n = ++ids;
  return {
    namespace: 'incident',
    id: `inc-${String(n).padStart(6, '0')}`,
    status: 'open',
    subject: 'principal:alice',
    createdAt: '2025-01-01T00:00:00.000Z',
    body: { severity: 'high', signals: ['exfiltration', 'burst'], score: 0.93 },
    ...overrides,
  };
}

/** What `get` returns for a record just created. */
function stored(record: NewRecord, changes: Partial<ControlRecord> = {}): ControlRecord {
  return { ...record, updatedAt: record.createdAt, version: 1, ...changes };
}

const idsOf = (records: readonly ControlRecord[]): string[] => records.map((r) => r.id);

function time(minute: number): string {
  return new Date(Date.UTC(2025, 0, 1, 0, minute)).toISOString();
}

function controlRecordsContract(name: string, durable: boolean, makeFixture: () => Promise<Fixture>): void {
  describe(`ControlRecordRepository contract: ${name}`, () => {
    const spaces = useStoreSpaces(makeFixture, 'r');
    const open = spaces.open;
    const fresh = async (): Promise<ControlRecordRepository> => (await spaces.fresh()).records;

    it('create and get round-trip every field; unknown keys are undefined', async () => {
      const records = await fresh();
      const incident = newRecord();
      const approval = newRecord({
        namespace: 'approval',
        id: 'APR.2025:01_x-y',
        status: 'pending',
        subject: null,
        createdAt: '2025-06-30T23:59:59.999Z',
        body: { z: 1, a: { nested: [1, 'two', null, true] }, text: 'nul \u0000 · ünïcödé 🚀', empty: {} },
      });
      assert.equal(await records.create(incident), true);
      assert.equal(await records.create(approval), true);
      assert.deepEqual(await records.get('incident', incident.id), stored(incident));
      const got = await records.get('approval', approval.id);
      assert.deepEqual(got, stored(approval));
      assert.deepEqual(Object.keys(got?.body ?? {}), ['z', 'a', 'text', 'empty'], 'key order is kept');
      assert.equal(await records.get('incident', 'nosuch'), undefined);
      assert.equal(await records.get('approval', incident.id), undefined, 'namespaces are separate');
    });

    it('a second create of the same (namespace, id) returns false and changes nothing', async () => {
      const records = await fresh();
      const first = newRecord();
      assert.equal(await records.create(first), true);
      const again = { ...first, status: 'resolved', subject: 'principal:mallory', body: { other: true } };
      assert.equal(await records.create(again), false);
      assert.deepEqual(await records.get(first.namespace, first.id), stored(first));
      assert.equal(await records.create({ ...first, namespace: 'approval' }), true, 'other namespace');
    });

    it('lists newest first by (createdAt, id), pages with before, filters by status and subject', async () => {
      const records = await fresh();
      const made = [
        newRecord({ id: 'a', createdAt: time(1), status: 'open', subject: 'principal:alice' }),
        newRecord({ id: 'b', createdAt: time(3), status: 'resolved', subject: 'principal:bob' }),
        newRecord({ id: 'c', createdAt: time(2), status: 'open', subject: 'principal:bob' }),
        // Same time as b: the id breaks the tie, newest (largest) first.
        newRecord({ id: 'd', createdAt: time(3), status: 'open', subject: null }),
        newRecord({ id: 'e', createdAt: time(4), status: 'acknowledged', subject: 'principal:alice' }),
        newRecord({ namespace: 'approval', id: 'z', createdAt: time(9), status: 'open' }),
      ];
      for (const record of made) assert.equal(await records.create(record), true);
      const list = (q: Partial<Parameters<ControlRecordRepository['list']>[0]> = {}) =>
        records.list({ namespace: 'incident', ...q });
      assert.deepEqual(idsOf(await list()), ['e', 'd', 'b', 'c', 'a']);
      assert.deepEqual(
        await list(),
        [made[4], made[3], made[1], made[2], made[0]].map((r) => stored(r!)),
      );
      assert.deepEqual(idsOf(await list({ status: 'open' })), ['d', 'c', 'a']);
      assert.deepEqual(idsOf(await list({ subject: 'principal:bob' })), ['b', 'c']);
      assert.deepEqual(idsOf(await list({ status: 'open', subject: 'principal:bob' })), ['c']);
      assert.deepEqual(idsOf(await list({ status: 'denied' })), []);
      assert.deepEqual(idsOf(await records.list({ namespace: 'approval' })), ['z']);
      assert.deepEqual(await records.list({ namespace: 'nothing' }), []);
      assert.deepEqual(await list({ limit: 0 }), []);

      // Paging: each page starts strictly before the last record of the previous one.
      const pages: string[][] = [];
      let before: { createdAt: string; id: string } | undefined;
      for (;;) {
        const page = await list({ limit: 2, ...(before ? { before } : {}) });
        if (page.length === 0) break;
        pages.push(idsOf(page));
        const last = page[page.length - 1]!;
        before = { createdAt: last.createdAt, id: last.id };
      }
      assert.deepEqual(pages, [['e', 'd'], ['b', 'c'], ['a']]);
      const d = { createdAt: time(3), id: 'd' };
      assert.deepEqual(idsOf(await list({ before: d })), ['b', 'c', 'a']);
      assert.deepEqual(idsOf(await list({ status: 'open', before: d })), ['c', 'a']);
      assert.deepEqual(idsOf(await list({ subject: 'principal:alice', before: d })), ['a']);
      assert.deepEqual(idsOf(await list({ subject: 'principal:bob', before: d })), ['b', 'c']);
    });

    it('list returns 100 by default and at most 1000', async () => {
      const records = await fresh();
      for (let i = 0; i < 1005; i++) {
        await records.create(newRecord({ id: `m${String(i).padStart(5, '0')}`, createdAt: time(i) }));
      }
      assert.equal((await records.list({ namespace: 'incident' })).length, 100);
      assert.equal((await records.list({ namespace: 'incident', limit: 5000 })).length, 1000);
      assert.equal((await records.list({ namespace: 'incident', limit: -3 })).length, 0);
      assert.equal((await records.list({ namespace: 'incident', limit: 1 }))[0]?.id, 'm01004');
    });

    it('update is a compare-and-set on the version', async () => {
      const records = await fresh();
      const record = newRecord();
      await records.create(record);
      const first = { status: 'acknowledged', body: { by: 'oncall' }, updatedAt: '2025-01-02T00:00:00.000Z' };
      const updated = await records.update(record.namespace, record.id, 1, first);
      assert.deepEqual(updated, stored(record, { ...first, version: 2 }));
      assert.deepEqual(await records.get(record.namespace, record.id), updated);

      const stale = { status: 'resolved', body: {}, updatedAt: '2025-01-03T00:00:00.000Z' };
      assert.equal(await records.update(record.namespace, record.id, 1, stale), undefined, 'a stale version');
      assert.equal(
        await records.update(record.namespace, record.id, 3, stale),
        undefined,
        'a future version',
      );
      assert.deepEqual(await records.get(record.namespace, record.id), updated, 'unchanged');

      const third = await records.update(record.namespace, record.id, 2, stale);
      assert.deepEqual(third, stored(record, { ...stale, version: 3 }));
      assert.equal(await records.update(record.namespace, 'nosuch', 1, stale), undefined, 'no such record');
      assert.equal(await records.update('approval', record.id, 3, stale), undefined, 'other namespace');
    });

    it('of concurrent updates from the same version exactly one wins', async () => {
      const records = await fresh();
      const record = newRecord({ namespace: 'approval', status: 'pending' });
      await records.create(record);
      const at = '2025-01-02T00:00:00.000Z';
      const [approve, deny] = await Promise.all([
        records.update(record.namespace, record.id, 1, {
          status: 'approved',
          body: { by: 'a' },
          updatedAt: at,
        }),
        records.update(record.namespace, record.id, 1, {
          status: 'denied',
          body: { by: 'b' },
          updatedAt: at,
        }),
      ]);
      assert.equal([approve, deny].filter((r) => r !== undefined).length, 1, 'exactly one wins');
      const winner = approve ?? deny;
      assert.equal(winner?.version, 2);
      assert.deepEqual(await records.get(record.namespace, record.id), winner);

      const many = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          records.update(record.namespace, record.id, 2, { status: 'released', body: { i }, updatedAt: at }),
        ),
      );
      const winners = many.filter((r) => r !== undefined);
      assert.equal(winners.length, 1, 'exactly one of eight wins');
      assert.equal(winners[0]?.version, 3);
      assert.deepEqual(await records.get(record.namespace, record.id), winners[0]);
    });

    it('countByStatus counts the records of one namespace by status', async () => {
      const records = await fresh();
      assert.deepEqual(await records.countByStatus('incident'), {});
      for (const status of ['open', 'open', 'resolved', 'acknowledged', 'open']) {
        await records.create(newRecord({ status }));
      }
      const moving = newRecord({ status: 'open' });
      await records.create(moving);
      await records.create(newRecord({ namespace: 'approval', status: 'pending' }));
      assert.deepEqual(await records.countByStatus('incident'), { open: 4, resolved: 1, acknowledged: 1 });
      await records.update('incident', moving.id, 1, {
        status: 'resolved',
        body: {},
        updatedAt: '2025-01-02T00:00:00.000Z',
      });
      assert.deepEqual(await records.countByStatus('incident'), { open: 3, resolved: 2, acknowledged: 1 });
      assert.deepEqual(await records.countByStatus('approval'), { pending: 1 });
      assert.deepEqual(await records.countByStatus('nothing'), {});
    });

    it('accepts a body of exactly 64 KiB and refuses one byte more', async () => {
      const records = await fresh();
      // {"x":"…"} is 8 bytes around the string.
      const at = newRecord({ body: { x: 'a'.repeat(65536 - 8) } });
      assert.equal(await records.create(at), true);
      assert.deepEqual(await records.get(at.namespace, at.id), stored(at));
      await assert.rejects(records.create(newRecord({ body: { x: 'a'.repeat(65536 - 7) } })), RangeError);
      // Multi-byte characters count as their UTF-8 bytes.
      await assert.rejects(records.create(newRecord({ body: { x: 'é'.repeat(32765) } })), RangeError);
      const next = { status: 'open', body: { x: 'a'.repeat(65536) }, updatedAt: at.createdAt };
      await assert.rejects(
        records.update(at.namespace, at.id, 1, next),
        /next\.body must be at most 65536 bytes/,
      );
    });

    it('rejects invalid input with errors that name the argument, never its value', async () => {
      const records = await fresh();
      const secret = 'SECRET value';
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const next = { status: 'open', body: {}, updatedAt: '2025-01-02T00:00:00.000Z' };
      const create = (fields: Record<string, unknown>) => () =>
        records.create({ ...newRecord(), ...fields } as NewRecord);
      const update =
        (id: string, version: unknown, fields: Record<string, unknown> = {}) =>
        () =>
          records.update('incident', id, version as number, { ...next, ...fields } as typeof next);
      const list = (query: unknown) => () => records.list(query as { namespace: string });
      // Every message starts with "control records: " (checked below).
      const cases: [() => Promise<unknown>, RegExp, ErrorConstructor?][] = [
        [create({ namespace: 'Incident' }), /: namespace must be/],
        [create({ namespace: '' }), /: namespace must be/],
        [create({ namespace: '9lives' }), /: namespace must be/],
        [create({ namespace: 'a'.repeat(33) }), /: namespace must be/],
        [create({ id: secret }), /: id must be/],
        [create({ id: '' }), /: id must be/],
        [create({ id: 'x'.repeat(129) }), /: id must be/],
        [create({ status: 'Open' }), /: status must be/],
        [create({ status: secret }), /: status must be/],
        [create({ subject: `${secret}\n` }), /: subject must be non-empty printable/],
        [create({ subject: '' }), /: subject must be/],
        [create({ subject: 'S'.repeat(513) }), /: subject must be at most 512/, RangeError],
        [create({ subject: undefined }), /: subject must be a string/],
        [create({ createdAt: 'yesterday' }), /: createdAt must be/],
        [create({ createdAt: '2025-02-30T00:00:00.000Z' }), /: createdAt must be a valid/],
        [create({ body: [secret] }), /: body must be a JSON object, not an array/],
        [create({ body: null }), /: body must be a JSON object/],
        [create({ body: secret }), /: body must be a JSON object/],
        [create({ body: new Date() }), /: body must be a plain JSON object/],
        [create({ body: { n: 1n } }), /: body must be serialisable/],
        [create({ body: cyclic }), /: body must be serialisable/],
        [create({ body: { s: 'S'.repeat(70_000) } }), /: body must be at most 65536 bytes/, RangeError],
        [() => records.create(null as unknown as NewRecord), /: the record to create must be an object/],
        [() => records.get('incident', secret), /: id must be/],
        [() => records.get(secret, 'abc'), /: namespace must be/],
        [() => records.get('incident', 'x'.repeat(100_000)), /: id must be/],
        [update('abc', 0), /: expectedVersion must be a positive integer, not 0/],
        [update('abc', 1.5), /: expectedVersion must be a positive integer/],
        [update('abc', '1'), /: expectedVersion must be a positive integer, not string/],
        [update('abc', 1, { status: secret }), /: next\.status must be/],
        [update('abc', 1, { updatedAt: 'now' }), /: next\.updatedAt must be/],
        [update('abc', 1, { body: [] }), /: next\.body must be a JSON object/],
        [update(secret, 1), /: id must be/],
        [() => records.update('incident', 'abc', 1, undefined as never), /: next must be an object/],
        [list({ namespace: secret }), /: query\.namespace must be/],
        [list({}), /: query\.namespace must be a string/],
        [list(undefined), /: query must be an object/],
        [list({ namespace: 'incident', status: secret }), /: query\.status must be/],
        [list({ namespace: 'incident', subject: `${secret}\u0000` }), /: query\.subject must be/],
        [
          list({ namespace: 'incident', before: { createdAt: secret, id: 'a' } }),
          /: query\.before\.createdAt/,
        ],
        [list({ namespace: 'incident', before: { createdAt: time(1), id: secret } }), /: query\.before\.id/],
        [list({ namespace: 'incident', before: 'yesterday' }), /: query\.before must be an object/],
        [() => records.countByStatus(secret), /: namespace must be/],
      ];
      for (const [call, message, type = TypeError] of cases) {
        await assert.rejects(call, (err: Error) => {
          assert.ok(err instanceof type, `${err.message} is a ${type.name}`);
          assert.match(err.message, /^control records: /);
          assert.match(err.message, message);
          assert.ok(!err.message.includes('SECRET'), 'the value is not shown');
          return true;
        });
      }
      assert.deepEqual(await records.list({ namespace: 'incident' }), [], 'nothing was stored');
    });

    if (durable) {
      it('records survive close and reopen; migrate is idempotent and records the latest version (5)', async () => {
        const store = await open('durable');
        await store.migrate();
        const record = newRecord();
        await store.records.create(record);
        await store.close();
        const again = await open('durable');
        await again.migrate();
        await again.migrate();
        assert.deepEqual(await again.records.get(record.namespace, record.id), stored(record));
        const fixture = spaces.fixture();
        assert.ok(fixture.sql);
        assert.deepEqual(await fixture.sql('durable', 'select max(version) as v from schema_migrations'), [
          { v: 5 },
        ]);
      });

      it('migrates a database at schema version 4, twice without harm', async () => {
        const fixture = spaces.fixture();
        assert.ok(fixture.sql && fixture.exec && fixture.indexes);
        // A version-4 database: migrations are append-only, so 1-4 then dropping what 5 adds is
        // what a build at version 4 left behind.
        const old = await open('v4');
        await old.migrate();
        const object = { namespace: 'n', id: 'i', keyName: 'k', keyVersion: 1, envelope: Buffer.from('e') };
        await old.objects.put(object);
        await old.close();
        const downgrade = 'drop table control_records; delete from schema_migrations where version = 5';
        await fixture.exec('v4', downgrade);
        assert.deepEqual(await fixture.sql('v4', 'select max(version) as v from schema_migrations'), [
          { v: 4 },
        ]);

        const store = await open('v4');
        await store.migrate();
        await store.migrate();
        assert.deepEqual(
          await fixture.sql('v4', 'select version from schema_migrations order by version'),
          [1, 2, 3, 4, 5].map((version) => ({ version })),
        );
        assert.equal((await store.objects.get('n', 'i'))?.keyVersion, 1, 'older data is kept');
        const record = newRecord();
        assert.equal(await store.records.create(record), true);
        assert.deepEqual(await store.records.list({ namespace: record.namespace }), [stored(record)]);
        assert.deepEqual(await fixture.sql('v4', fixture.indexes), [
          { name: 'control_records_status' },
          { name: 'control_records_subject' },
        ]);
      });
    }
  });
}

controlRecordsContract('sqlite file', true, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ztgate-records-'));
  const path = (space: string): string => join(dir, `${space}.db`);
  const withDb = <T>(space: string, use: (db: Database.Database) => T): T => {
    const db = new Database(path(space));
    try {
      return use(db);
    } finally {
      db.close();
    }
  };
  return {
    open: async (space) => new SqliteStore({ path: path(space) }),
    sql: async (space, text) => withDb(space, (db) => db.prepare(text).all()),
    exec: async (space, text) => withDb(space, (db) => void db.exec(text)),
    indexes: `select name from sqlite_master where type = 'index' and tbl_name = 'control_records'
      and name like 'control_records_%' order by name`,
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

controlRecordsContract('sqlite :memory:', false, async () => ({
  open: async () => new SqliteStore({ path: ':memory:' }),
  cleanup: async () => undefined,
}));

controlRecordsContract('postgres', true, async () => {
  const spaces = await pgSpaces();
  return {
    open: spaces.open,
    sql: spaces.sql,
    exec: async (space, text) => void (await spaces.sql(space, text)),
    indexes: `select indexname as name from pg_indexes where schemaname = current_schema()
      and tablename = 'control_records' and indexname <> 'control_records_pkey' order by indexname`,
    cleanup: spaces.cleanup,
  };
});
