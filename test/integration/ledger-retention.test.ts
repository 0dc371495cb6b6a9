// Retention by crypto-shredding: the vault over the real local key provider and the real stores
// (SQLite, and PostgreSQL at 127.0.0.1:5432, required: these tests fail, never skip, without it).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import type { AuditEntry, RetentionRef } from '../../src/core/index.js';
import { KeyManager, type KeyAuditEvent } from '../../src/keys/index.js';
import { createLocalProvider } from '../../src/keys/providers/local.js';
import { leafHash } from '../../src/ledger/merkle.js';
import { rootHash } from '../../src/ledger/merkle-proofs.js';
import { verifyInclusion } from '../../src/ledger/merkle-verify.js';
import {
  periodEndOf,
  periodKeyOf,
  RetentionVault,
  subjectHash,
  subjectKeyName,
  type RetentionVaultOptions,
} from '../../src/ledger/retention.js';
import { storedInclusionProof } from '../../src/ledger/store-proofs.js';
import { createStore, type Store } from '../../src/store/index.js';

const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
const CACHE = { maxAgeMs: 60_000, maxUses: 10_000, maxBytes: 1 << 24, maxEntries: 100 };
// Times in the past: the provider stamps versions with the real clock, after any of these.
const T0 = Date.UTC(2024, 2, 10, 12);

interface Backend {
  readonly name: string;
  open(): Promise<{ store: Store; cleanup(): Promise<void> }>;
}

const BACKENDS: readonly Backend[] = [
  {
    name: 'SQLite',
    async open() {
      const home = await mkdtemp(join(tmpdir(), 'ztgate-retention-'));
      const store = await createStore({ url: 'sqlite:ledger.db', home });
      return { store, cleanup: () => rm(home, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    async open() {
      const schema = `retention_${randomBytes(6).toString('hex')}`;
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

function entry(requestId: string, retention: RetentionRef): AuditEntry {
  return {
    requestId,
    time: new Date(T0).toISOString(),
    phase: 'release',
    action: 'chat.completions',
    principalId: 'alice',
    authMethod: 'oidc',
    modelId: 'demo',
    upstreamId: 'up',
    decision: 'allow',
    determiningPolicies: ['retain-all'],
    obligations: ['retain:6h'],
    bundleDigest: null,
    findings: {},
    transformations: [],
    status: 200,
    errorCode: null,
    stream: false,
    promptTokens: 3,
    completionTokens: 4,
    latencyMs: 5,
    promptSha256: null,
    answerSha256: null,
    retention,
  };
}

/** Recomputes every leaf hash from its text and the root from those: the tree verifies. */
async function verifiedRoot(store: Store): Promise<Buffer> {
  const { size, rootHash: head } = await store.audit.treeHead();
  const leaves = await store.audit.leaves(0, size);
  assert.equal(leaves.length, size);
  const hashes = leaves.map((leaf) => {
    const recomputed = leafHash(Buffer.from(leaf.text, 'utf8'));
    assert.deepEqual(recomputed, leaf.leafHash, `leaf ${leaf.index} verifies`);
    return recomputed;
  });
  const root = await rootHash({ size, leafHash: (i) => hashes[i] as Buffer }, size);
  assert.deepEqual(root, head);
  return root;
}

function content(n: string) {
  return { prompt: `{"messages":[{"role":"user","content":"secret prompt ${n}"}]}`, answer: `answer ${n}` };
}

for (const backend of BACKENDS) {
  describe(`retention vault on ${backend.name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    async function setup() {
      const { store, cleanup } = await backend.open();
      const dir = await mkdtemp(join(tmpdir(), 'ztgate-retention-keys-'));
      const events: KeyAuditEvent[] = [];
      const keys = new KeyManager({
        provider: await createLocalProvider({ dir, env: {} }),
        cache: CACHE,
        audit: async (event) => {
          events.push(event);
        },
      });
      cleanups.push(async () => {
        await keys.close();
        await store.close();
        await cleanup();
        await rm(dir, { recursive: true, force: true });
      });
      const clock = { now: T0 };
      const vault = (options: Partial<RetentionVaultOptions> = {}) =>
        new RetentionVault({
          keys,
          objects: store.objects,
          period: 'day',
          perSubject: false,
          actor: 'test',
          now: () => clock.now,
          ...options,
        });
      return { store, keys, events, clock, vault };
    }

    it('keeps content encrypted, shreds it once its period ended, and the ledger still verifies', async () => {
      const { store, keys, events, clock, vault } = await setup();
      const v = vault();
      const a = await v.keep({ requestId: 'req-a', subject: 'alice', hours: 6, content: content('a') });
      const b = await v.keep({ requestId: 'req-b', subject: 'alice', hours: 48, content: content('b') });
      assert.deepEqual(a, {
        objectId: 'req-a',
        keyName: 'ledger-content-2024-03-10',
        expiresAt: '2024-03-10T18:00:00.000Z',
      });
      assert.equal(b.keyName, 'ledger-content-2024-03-12');
      const storedA = await store.objects.get('ztgate/ledger-content', 'req-a');
      assert.ok(storedA);
      assert.equal(storedA.keyName, 'ledger-content-2024-03-10');
      assert.ok(!storedA.envelope.includes(Buffer.from('secret prompt')), 'stored encrypted');
      assert.deepEqual(await v.read(a), content('a'));
      for (const [id, ref] of [
        ['req-a', a],
        ['req-b', b],
      ] as const)
        await store.audit.append(entry(id, ref));
      const before = await verifiedRoot(store);

      // Until the period ends, the sweep destroys nothing, even though req-a's 6 h are over.
      clock.now = Date.UTC(2024, 2, 10, 23, 59, 59, 999);
      assert.deepEqual(await v.sweep(), { shredded: [] });
      assert.equal(await v.read(a), 'shredded', 'not served past its retention');
      const period = await keys.describeKey('ledger-content-2024-03-10');
      assert.deepEqual(
        period.versions.map((x) => x.state),
        ['active'],
      );
      assert.ok(!events.some((e) => e.operation === 'destroy'));
      assert.equal(
        (await keys.decrypt(storedA.envelope, context('req-a'))).toString().includes('secret'),
        true,
      );

      clock.now = Date.UTC(2024, 2, 11);
      assert.deepEqual(await v.sweep(), { shredded: ['ledger-content-2024-03-10'] });
      await assert.rejects(keys.decrypt(storedA.envelope, context('req-a')), { code: 'key_destroyed' });
      assert.equal(
        await store.objects.get('ztgate/ledger-content', 'req-a'),
        undefined,
        'unreadable rows deleted',
      );
      assert.equal(await vault({ now: () => T0 }).read(a), 'shredded');
      assert.deepEqual(await v.read(b), content('b'), 'a later period still reads');
      assert.deepEqual(
        events.filter((e) => e.keyId.startsWith('ledger-content-2024-03-10')).map((e) => e.operation),
        ['create', 'rotate', 'destroy'],
      );
      assert.ok(events.every((e) => e.outcome === 'ok' && e.actor === 'test'));
      assert.deepEqual(await v.sweep(), { shredded: [] }, 'a second sweep has nothing to do');
      assert.equal(events.length, 4);

      // Hashes and metadata are untouched: same root, and the shredded entry's inclusion proof verifies.
      assert.deepEqual(await verifiedRoot(store), before);
      const [record] = await store.audit.list({ requestId: 'req-a' });
      assert.ok(record);
      assert.deepEqual(record.entry.retention, a);
      const index = record.seq - 1;
      const [leaf] = await store.audit.leaves(index, index + 1);
      assert.ok(leaf);
      verifyInclusion(leaf.leafHash, index, 2, await storedInclusionProof(store.audit, index, 2), before);

      clock.now = Date.UTC(2024, 2, 13);
      assert.deepEqual(await v.sweep(), { shredded: ['ledger-content-2024-03-12'] });
      assert.equal(await vault({ now: () => T0 }).read(b), 'shredded');
      assert.deepEqual(await verifiedRoot(store), before);
    });

    it('per subject: erasing one subject shreds only its content, and the ledger still verifies', async () => {
      const { store, keys, clock, vault } = await setup();
      const v = vault({ perSubject: true });
      const alice1 = await v.keep({
        requestId: 'a1',
        subject: 'idp#alice',
        hours: 2,
        content: content('a1'),
      });
      const alice2 = await v.keep({
        requestId: 'a2',
        subject: 'idp#alice',
        hours: 30,
        content: content('a2'),
      });
      const bob = await v.keep({ requestId: 'b1', subject: 'idp#bob', hours: 2, content: content('b1') });
      const anonymous = await v.keep({ requestId: 'n1', subject: null, hours: 2, content: content('n1') });
      assert.equal(alice1.subject, subjectHash('idp#alice'));
      assert.equal(anonymous.subject, undefined);
      const aliceKey = subjectKeyName(subjectHash('idp#alice'));
      assert.match(aliceKey, /^ledger-subject-[0-9a-f]{32}$/);
      for (const ref of [alice1, alice2, bob, anonymous]) await store.audit.append(entry(ref.objectId, ref));
      const before = await verifiedRoot(store);

      const erased = await v.eraseSubject('idp#alice');
      assert.deepEqual(erased, { keyName: aliceKey, versions: 1, destroyed: [`${aliceKey}@1`] });
      assert.equal(await v.read(alice1), 'shredded');
      assert.equal(await v.read(alice2), 'shredded', 'in every period');
      assert.deepEqual(await v.read(bob), content('b1'));
      assert.deepEqual(await v.read(anonymous), content('n1'));
      assert.deepEqual(
        (await keys.describeKey(alice1.keyName)).versions.map((x) => x.state),
        ['active'],
        'the period key is untouched',
      );
      assert.deepEqual(await verifiedRoot(store), before);

      // New content of the subject after the erasure goes under the key's fresh version.
      const later = await v.keep({ requestId: 'a3', subject: 'idp#alice', hours: 2, content: content('a3') });
      assert.deepEqual(await v.read(later), content('a3'));
      await assert.rejects(v.eraseSubject('idp#carol'), { code: 'subject_unknown' });
      await assert.rejects(vault().eraseSubject('idp#bob'), { code: 'per_subject_disabled' });

      // Destroying the period key shreds per-subject content too (two layers, either key suffices).
      clock.now = Date.UTC(2024, 2, 11);
      assert.deepEqual(await v.sweep(), { shredded: ['ledger-content-2024-03-10'] });
      assert.equal(await vault({ perSubject: true, now: () => T0 }).read(bob), 'shredded');
      assert.deepEqual(await v.read(alice2), 'shredded');
      assert.deepEqual(await verifiedRoot(store), before);
    });

    it('month periods: one key per UTC month, shredded when the month is over', async () => {
      const { keys, clock, vault } = await setup();
      const v = vault({ period: 'month' });
      const ref = await v.keep({ requestId: 'm1', subject: null, hours: 24 * 20, content: content('m1') });
      assert.equal(ref.keyName, 'ledger-content-2024-03');
      clock.now = Date.UTC(2024, 3, 1) - 1;
      assert.deepEqual(await v.sweep(), { shredded: [] });
      assert.deepEqual(
        (await keys.describeKey('ledger-content-2024-03')).versions.map((x) => x.state),
        ['active'],
      );
      clock.now = Date.UTC(2024, 3, 1);
      assert.deepEqual(await v.sweep(), { shredded: ['ledger-content-2024-03'] });
      assert.equal(await vault({ now: () => T0 }).read(ref), 'shredded');
    });

    it('concurrent keeps of one period create its key once, also across vaults', async () => {
      const { keys, events, vault } = await setup();
      const [one, two] = [vault(), vault()];
      const refs = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          (i % 2 ? one : two).keep({
            requestId: `c${i}`,
            subject: null,
            hours: 1,
            content: content(`c${i}`),
          }),
        ),
      );
      assert.ok(refs.every((r) => r.keyName === 'ledger-content-2024-03-10'));
      const created = events.filter((e) => e.operation === 'create' && e.outcome === 'ok');
      assert.equal(created.length, 1);
      assert.equal((await keys.describeKey('ledger-content-2024-03-10')).versions.length, 1);
      for (const [i, ref] of refs.entries()) assert.deepEqual(await one.read(ref), content(`c${i}`));
    });
  });
}

function context(recordId: string) {
  return { tenant: 'ztgate', purpose: 'ledger-content', recordId };
}

describe('retention periods', () => {
  it('names the key of the period content expires in, and when that period ends', () => {
    assert.deepEqual(periodKeyOf(Date.UTC(2024, 11, 31, 23, 59), 'day'), {
      keyName: 'ledger-content-2024-12-31',
      endsAt: Date.UTC(2025, 0, 1),
    });
    assert.deepEqual(periodKeyOf(Date.UTC(2024, 11, 31, 23, 59), 'month'), {
      keyName: 'ledger-content-2024-12',
      endsAt: Date.UTC(2025, 0, 1),
    });
    assert.equal(periodEndOf('ledger-content-2024-02-29'), Date.UTC(2024, 2, 1));
    assert.equal(periodEndOf('ledger-content-2024-02'), Date.UTC(2024, 2, 1));
    for (const name of [
      'ledger-content-2023-02-29',
      'ledger-content-2024-13',
      'ledger-signing',
      'ledger-content-x',
    ])
      assert.equal(periodEndOf(name), undefined, name);
  });
});
