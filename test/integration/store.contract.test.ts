// The Store contract: every implementation runs the same cases against a real database.
// PostgreSQL at 127.0.0.1:5432 is required; when it is down these tests fail, they never skip.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { AuditEntry } from '../../src/core/index.js';
import { canonicalJson } from '../../src/ledger/canonical-json.js';
import { createStore, type Store } from '../../src/store/index.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import {
  postgresFixture,
  sqliteFileFixture,
  sqliteMemoryFixture,
  type StoreFixture,
  type StoreTraits,
} from '../helpers/store-fixtures.js';

const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
const SECRET = 's3cr3t-Pa55';

let entryCounter = 0;

/** A fully populated entry; every field differs between calls. */
function entry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  const n = ++entryCounter;
  return {
    requestId: `req-${n}`,
    time: new Date(Date.UTC(2025, 0, 1, 0, 0, n % 60)).toISOString(),
    phase: 'release',
    action: 'chat.completions',
    principalId: `user-${n}`,
    authMethod: 'jwt',
    modelId: 'gpt-test',
    upstreamId: 'openai',
    decision: 'allow',
    determiningPolicies: ['p-1', 'p-2'],
    obligations: ['redact'],
    bundleDigest: 'sha256:' + 'ab'.repeat(32),
    findings: { EMAIL_ADDRESS: 2, PHONE_NUMBER: n },
    transformations: ['mask:EMAIL_ADDRESS'],
    status: 200,
    errorCode: null,
    stream: true,
    promptTokens: 12,
    completionTokens: 34,
    latencyMs: 12.5,
    promptSha256: 'cd'.repeat(32),
    answerSha256: 'ef'.repeat(32),
    ...overrides,
  };
}

function storeContract(name: string, traits: StoreTraits, makeFixture: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let fixture: StoreFixture;
    const opened: Store[] = [];
    let spaces = 0;

    async function open(space: string): Promise<Store> {
      const store = await fixture.open(space);
      opened.push(store);
      return store;
    }

    /** A migrated store on a space of its own, so counts and paging start from zero. */
    async function fresh(): Promise<Store> {
      const store = await open(`s${++spaces}`);
      await store.migrate();
      return store;
    }

    before(async () => {
      fixture = await makeFixture();
    });

    after(async () => {
      for (const store of opened) await store.close().catch(() => undefined);
      await fixture?.cleanup();
    });

    it('migrate is idempotent', async () => {
      const store = await open('idempotent');
      await store.migrate();
      await store.migrate();
      await store.audit.append(entry());
      await store.migrate();
      assert.equal(await store.audit.count(), 1);
    });

    if (traits.shared) {
      it('migrate is safe when several replicas run it at once', async () => {
        const replicas = await Promise.all([open('race'), open('race'), open('race')]);
        await Promise.all(replicas.map((store) => store.migrate()));
        await Promise.all(replicas.map((store) => store.migrate()));
        await replicas[0]?.audit.append(entry());
        for (const store of replicas) assert.equal(await store.audit.count(), 1);
        assert.ok(fixture.sql, 'shared fixtures provide sql');
        assert.deepEqual(
          await fixture.sql('race', 'select version from schema_migrations order by version'),
          [{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }, { version: 5 }],
        );
      });

      it('refuses a database whose schema is newer than this build', async () => {
        const store = await open('newer');
        await store.migrate();
        assert.ok(fixture.sql);
        await fixture.sql('newer', "insert into schema_migrations (version, applied_at) values (999, 'x')");
        await assert.rejects(store.migrate(), /schema version 999 is newer/);
      });
    }

    it('append returns increasing seq numbers', async () => {
      const store = await fresh();
      const seqs: number[] = [];
      for (let i = 0; i < 5; i++) seqs.push((await store.audit.append(entry())).seq);
      for (const seq of seqs)
        assert.ok(Number.isSafeInteger(seq) && seq > 0, `seq ${seq} is a positive integer`);
      for (let i = 1; i < seqs.length; i++)
        assert.ok(seqs[i]! > seqs[i - 1]!, `seq ${seqs[i]} > ${seqs[i - 1]}`);
      assert.deepEqual(
        (await store.audit.list()).map((record) => record.seq),
        seqs,
      );
    });

    it('list round-trips every field of an entry exactly', async () => {
      const store = await fresh();
      const full = entry({
        // Characters that JSONB or a careless encoder would mangle.
        action: 'quote " backslash \\ nul \u0000 lone \ud800 emoji 😀 é',
        findings: { EMAIL_ADDRESS: 2, 'KEY WITH SPACE': 0 },
        latencyMs: 0.1 + 0.2,
        phase: 'complete',
        decision: 'deny',
        stream: false,
      });
      const empty: AuditEntry = {
        requestId: 'req-nulls',
        time: '2025-01-01T00:00:00.000Z',
        phase: 'refused',
        action: 'models.list',
        principalId: null,
        authMethod: null,
        modelId: null,
        upstreamId: null,
        decision: null,
        determiningPolicies: [],
        obligations: [],
        bundleDigest: null,
        findings: {},
        transformations: [],
        status: 401,
        errorCode: 'unauthenticated',
        stream: false,
        promptTokens: null,
        completionTokens: null,
        latencyMs: 0,
        promptSha256: null,
        answerSha256: null,
      };
      const before = Date.now();
      const seqs = [(await store.audit.append(full)).seq, (await store.audit.append(empty)).seq];
      const records = await store.audit.list();
      // A lone surrogate has no UTF-8 form: the ledger stores U+FFFD in its place.
      assert.deepEqual(
        records.map((record) => record.entry),
        [{ ...full, action: full.action.replace('\ud800', '\ufffd') }, empty],
      );
      assert.deepEqual(
        records.map((record) => record.seq),
        seqs,
      );
      for (const record of records) {
        assert.equal(typeof record.seq, 'number');
        assert.equal(new Date(record.storedAt).toISOString(), record.storedAt);
        assert.ok(Date.parse(record.storedAt) >= before - 1000);
      }
      // The leaf is stored as canonical JSON (RFC 8785), exactly as hashed.
      const [leaf] = await store.audit.leaves(0, 1);
      assert.equal(leaf?.text, canonicalJson(JSON.parse(leaf?.text ?? 'null')));
    });

    it('list filters by requestId and principalId', async () => {
      const store = await fresh();
      const a1 = await store.audit.append(entry({ requestId: 'A', principalId: 'alice' }));
      const a2 = await store.audit.append(entry({ requestId: 'A', principalId: 'alice', phase: 'complete' }));
      const b1 = await store.audit.append(entry({ requestId: 'B', principalId: 'bob' }));
      const c1 = await store.audit.append(entry({ requestId: 'C', principalId: 'alice' }));
      await store.audit.append(entry({ requestId: 'D', principalId: null }));
      const seqs = async (query: Parameters<Store['audit']['list']>[0]): Promise<number[]> =>
        (await store.audit.list(query)).map((record) => record.seq);
      assert.deepEqual(await seqs({ requestId: 'A' }), [a1.seq, a2.seq]);
      assert.deepEqual(await seqs({ principalId: 'alice' }), [a1.seq, a2.seq, c1.seq]);
      assert.deepEqual(await seqs({ principalId: 'bob' }), [b1.seq]);
      assert.deepEqual(await seqs({ requestId: 'A', principalId: 'bob' }), []);
      assert.deepEqual(await seqs({ requestId: 'C', principalId: 'alice' }), [c1.seq]);
      assert.deepEqual(await seqs({ principalId: 'alice', afterSeq: a1.seq, limit: 1 }), [a2.seq]);
      assert.deepEqual(await seqs({ requestId: 'nobody' }), []);
    });

    it('list pages with afterSeq and limit', async () => {
      const store = await fresh();
      const seqs: number[] = [];
      for (let i = 0; i < 7; i++) seqs.push((await store.audit.append(entry())).seq);
      const pages: number[][] = [];
      let afterSeq = 0;
      for (;;) {
        const page = await store.audit.list({ afterSeq, limit: 3 });
        if (page.length === 0) break;
        pages.push(page.map((record) => record.seq));
        afterSeq = page[page.length - 1]!.seq;
      }
      assert.deepEqual(pages, [seqs.slice(0, 3), seqs.slice(3, 6), seqs.slice(6)]);
      assert.deepEqual(await store.audit.list({ afterSeq: seqs[6] }), []);
      // A negative SQL LIMIT means "no limit" in SQLite; the store must not pass one through.
      assert.deepEqual(await store.audit.list({ limit: -1 }), []);
      assert.deepEqual(await store.audit.list({ limit: 0 }), []);
      assert.equal((await store.audit.list({ afterSeq: -5 })).length, 7);
    });

    it('list returns 100 by default and at most 1000', async () => {
      const store = await fresh();
      for (let batch = 0; batch < 21; batch++) {
        await Promise.all(Array.from({ length: 50 }, () => store.audit.append(entry())));
      }
      assert.equal((await store.audit.list()).length, 100);
      assert.equal((await store.audit.list({ limit: Number.NaN })).length, 100);
      assert.equal((await store.audit.list({ limit: 5000 })).length, 1000);
      assert.equal((await store.audit.list({ limit: 1000 })).length, 1000);
      assert.equal((await store.audit.list({ limit: 999 })).length, 999);
    });

    it('count counts every entry', async () => {
      const store = await fresh();
      assert.equal(await store.audit.count(), 0);
      for (let i = 0; i < 3; i++) await store.audit.append(entry());
      assert.equal(await store.audit.count(), 3);
    });

    it('200 concurrent appends all land with unique seq numbers', async () => {
      const store = await fresh();
      const entries = Array.from({ length: 200 }, () => entry());
      const receipts = await Promise.all(entries.map((e) => store.audit.append(e)));
      const seqs = receipts.map((receipt) => receipt.seq);
      assert.equal(new Set(seqs).size, 200);
      assert.equal(await store.audit.count(), 200);
      const records = await store.audit.list({ limit: 1000 });
      assert.deepEqual(
        records.map((record) => record.seq),
        [...seqs].sort((a, b) => a - b),
      );
      // Each receipt names the record that holds its entry.
      const bySeq = new Map(records.map((record) => [record.seq, record.entry]));
      receipts.forEach((receipt, i) => assert.deepEqual(bySeq.get(receipt.seq), entries[i]));
    });

    if (traits.durable) {
      it('entries survive close and reopen', async () => {
        const first = await open('durable');
        await first.migrate();
        const written = [entry(), entry({ phase: 'complete' })];
        for (const e of written) await first.audit.append(e);
        await first.close();
        const second = await open('durable');
        await second.migrate();
        assert.deepEqual(
          (await second.audit.list()).map((record) => record.entry),
          written,
        );
      });
    }

    it('ping answers, and rejects after close', async () => {
      const store = await fresh();
      await store.ping();
      await store.close();
      await assert.rejects(store.ping());
      await assert.rejects(store.audit.append(entry()));
      await store.close();
    });
  });
}

storeContract('sqlite file', { shared: true, durable: true }, sqliteFileFixture);
storeContract('sqlite :memory:', { shared: false, durable: false }, sqliteMemoryFixture);
storeContract('postgres', { shared: true, durable: true }, postgresFixture);

describe('createStore', () => {
  const homes: string[] = [];
  const stores: Store[] = [];
  const schema = `ztgate_test_${randomBytes(4).toString('hex')}_create`;

  after(async () => {
    for (const store of stores) await store.close().catch(() => undefined);
    for (const home of homes) rmSync(home, { recursive: true, force: true });
    const admin = new pg.Client(PG_URL);
    await admin.connect();
    try {
      await admin.query(`drop schema if exists ${schema} cascade`);
    } finally {
      await admin.end();
    }
  });

  function home(): string {
    const dir = mkdtempSync(join(tmpdir(), 'ztgate-home-'));
    homes.push(dir);
    return dir;
  }

  /** Asserts the error names `pattern` and nothing in it (message, stack, properties) has SECRET. */
  async function rejectsWithoutSecret(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
    await assert.rejects(promise, (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, pattern);
      assert.ok(!inspect(err, { depth: 5, showHidden: true }).includes(SECRET), 'the password leaked');
      return true;
    });
  }

  it('opens a migrated sqlite store at a path relative to home', async () => {
    const dir = home();
    const store = await createStore({ url: 'sqlite:data/nested/audit.db', home: dir });
    stores.push(store);
    assert.equal(store.kind, 'sqlite');
    assert.equal(await store.audit.count(), 0);
    assert.ok(existsSync(join(dir, 'data/nested/audit.db')));
  });

  it('opens sqlite::memory: and an absolute sqlite path', async () => {
    const memory = await createStore({ url: 'sqlite::memory:', home: home() });
    stores.push(memory);
    assert.equal(memory.kind, 'sqlite');
    assert.equal(await memory.audit.count(), 0);
    const path = join(home(), 'abs.db');
    const file = await createStore({ url: `sqlite:${path}`, home: '/nonexistent' });
    stores.push(file);
    assert.equal(await file.audit.count(), 0);
    assert.ok(existsSync(path));
  });

  it('opens postgres:// and postgresql:// urls in the given schema', async () => {
    for (const url of [PG_URL, PG_URL.replace('postgres:', 'postgresql:')]) {
      const store = await createStore({ url, home: home(), schema, poolSize: 2 });
      stores.push(store);
      assert.equal(store.kind, 'postgres');
      await store.audit.append(entry());
    }
    assert.equal(await stores[stores.length - 1]?.audit.count(), 2);
  });

  it('rejects an unknown scheme by name without leaking the password', async () => {
    await rejectsWithoutSecret(
      createStore({ url: `mysql://admin:${SECRET}@db.example/audit`, home: home() }),
      /unsupported store url scheme "mysql:"/,
    );
    await rejectsWithoutSecret(createStore({ url: `admin:${SECRET}@db`, home: home() }), /scheme "admin:"/);
    await rejectsWithoutSecret(createStore({ url: `//admin:${SECRET}@db`, home: home() }), /has no scheme/);
    // Registry lookups must not reach Object.prototype.
    await assert.rejects(
      createStore({ url: 'constructor://x', home: home() }),
      /unsupported store url scheme/,
    );
  });

  it('rejects malformed sqlite urls and schema names', async () => {
    await assert.rejects(createStore({ url: 'sqlite:', home: home() }), /sqlite:PATH/);
    await assert.rejects(createStore({ url: 'sqlite://audit.db', home: home() }), /sqlite:PATH/);
    await assert.rejects(createStore({ url: PG_URL, home: home(), schema: 'Bad-Name' }), /schema name/);
    await assert.rejects(
      createStore({ url: PG_URL, home: home(), schema: 'x; drop table y' }),
      /schema name/,
    );
    await assert.rejects(createStore({ url: `${PG_URL}?options=-c%20x=y`, home: home() }), /options/);
  });

  it('fails fast on an unreachable PostgreSQL without leaking the password', async () => {
    const started = Date.now();
    await rejectsWithoutSecret(
      createStore({ url: `postgres://postgres:${SECRET}@127.0.0.1:1/test`, home: home() }),
      /ECONNREFUSED|connect/,
    );
    assert.ok(Date.now() - started < 5000);
  });
});

describe('SqliteStore file settings', () => {
  it('uses WAL and records its migrations', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztgate-wal-'));
    try {
      const store = new SqliteStore({ path: join(dir, 'wal.db') });
      await store.migrate();
      await store.close();
      const db = new Database(join(dir, 'wal.db'), { readonly: true });
      try {
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
        assert.deepEqual(db.prepare('select version from schema_migrations').all(), [
          { version: 1 },
          { version: 2 },
          { version: 3 },
          { version: 4 },
          { version: 5 },
        ]);
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
