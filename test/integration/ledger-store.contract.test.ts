// The ledger side of the Store contract, on every implementation: dense leaf indexes (also with
// several stores appending to one database at once, as replicas and CLI commands do), leaf text
// and hashes as RFC 9162 and RFC 8785 prescribe, stored subtrees and tree head that match a
// recomputation, checkpoints, and the indexed query filters.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuditEntry } from '../../src/core/index.js';
import { canonicalJson } from '../../src/ledger/canonical-json.js';
import { leafHash, MerkleFrontier } from '../../src/ledger/merkle.js';
import { rootHash } from '../../src/ledger/merkle-proofs.js';
import { verifyInclusion } from '../../src/ledger/merkle-verify.js';
import { storedInclusionProof, storedRootHash } from '../../src/ledger/store-proofs.js';
import { verifyLedger } from '../../src/ledger/verify-log.js';
import type { Store } from '../../src/store/index.js';
import { testEntry } from '../helpers/ledger-builder.js';
import { STORE_FIXTURES, type StoreFixture } from '../helpers/store-fixtures.js';

let counter = 0;
/** testEntry with a data class that varies too, so that the data-class filter has something to find. */
function entry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  const n = ++counter;
  return { ...testEntry(n), dataClass: n % 4 === 0 ? 'confidential' : 'internal', ...overrides };
}

/** Recomputes every leaf hash from the stored text and the root, independently of the store's state. */
async function recompute(store: Store): Promise<{ size: number; root: Buffer; hashes: Buffer[] }> {
  const { size } = await store.audit.treeHead();
  const frontier = new MerkleFrontier();
  const hashes: Buffer[] = [];
  for (let start = 0; start < size; start += 500) {
    for (const leaf of await store.audit.leaves(start, Math.min(size, start + 500))) {
      assert.equal(leaf.index, hashes.length, 'indexes are dense');
      assert.equal(canonicalJson(JSON.parse(leaf.text)), leaf.text, 'leaf text is canonical JSON');
      assert.equal(
        (JSON.parse(leaf.text) as { index: number }).index,
        leaf.index,
        'the leaf names its index',
      );
      const hash = leafHash(Buffer.from(leaf.text, 'utf8'));
      assert.deepEqual(leaf.leafHash, hash, 'stored leaf hash = SHA-256(0x00 ‖ text)');
      hashes.push(hash);
      frontier.append(hash);
    }
  }
  assert.equal(hashes.length, size);
  return { size, root: frontier.root(), hashes };
}

for (const [name, traits, makeFixture] of STORE_FIXTURES) {
  describe(`Ledger store contract: ${name}`, () => {
    let fixture: StoreFixture;
    const opened: Store[] = [];
    let spaces = 0;
    const open = async (space: string): Promise<Store> => {
      const store = await fixture.open(space);
      opened.push(store);
      await store.migrate();
      return store;
    };
    before(async () => {
      fixture = await makeFixture();
    });
    after(async () => {
      for (const store of opened) await store.close().catch(() => undefined);
      await fixture?.cleanup();
    });

    it('receipts name dense indexes and leaf hashes; the tree head matches a recomputation', async () => {
      const store = await open(`ledger${++spaces}`);
      assert.deepEqual(await store.audit.treeHead(), {
        size: 0,
        rootHash: Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex'),
      });
      const receipts = await Promise.all(Array.from({ length: 37 }, () => store.audit.append(entry())));
      assert.deepEqual(
        receipts.map((r) => r.index).sort((a, b) => a - b),
        Array.from({ length: 37 }, (_, i) => i),
      );
      for (const r of receipts) assert.equal(r.seq, r.index + 1);
      const { size, root, hashes } = await recompute(store);
      assert.equal(size, 37);
      for (const r of receipts) assert.equal(r.leafHash, hashes[r.index]?.toString('hex'));
      assert.deepEqual((await store.audit.treeHead()).rootHash, root);
      // Stored subtrees give the same roots and proofs as hashing the leaves.
      const source = { size, leafHash: (i: number) => hashes[i]! };
      for (const n of [1, 2, 5, 16, 31, 37]) {
        assert.deepEqual(await storedRootHash(store.audit, n), await rootHash(source, n));
      }
      assert.deepEqual(
        await store.audit.node(5, 0),
        await rootHash(source, 32),
        'node (5, 0) is the first 32 leaves',
      );
      assert.equal(await store.audit.node(6, 0), undefined, 'no subtree of 64 leaves yet');
      for (const index of [0, 17, 36]) {
        verifyInclusion(
          hashes[index]!,
          index,
          size,
          await storedInclusionProof(store.audit, index, size),
          root,
        );
      }
      await assert.rejects(store.audit.node(0, 0), TypeError);
      await assert.rejects(store.audit.leaves(-1, 2), TypeError);
    });

    if (traits.shared) {
      it('several stores appending to one database at once keep one dense, consistent tree', async () => {
        const space = `shared${++spaces}`;
        const stores = [await open(space), await open(space), await open(space)];
        await Promise.all(
          stores.map((store) => Promise.all(Array.from({ length: 60 }, () => store.audit.append(entry())))),
        );
        const { size, root } = await recompute(stores[0]!);
        assert.equal(size, 180);
        for (const store of stores) assert.deepEqual((await store.audit.treeHead()).rootHash, root);
      });
    }

    if (traits.shared) {
      it('a query column edited in the database is found, and verification names its leaf', async () => {
        const space = `cols${++spaces}`;
        const store = await open(space);
        await store.audit.append(entry({ principalId: null, dataClass: undefined, decision: null }));
        for (let i = 0; i < 4; i++) await store.audit.append(entry());
        assert.equal(await store.audit.firstColumnMismatch(), undefined);
        assert.equal((await verifyLedger(store.audit, { origin: 'test', verifiers: [] })).ok, true);
        await fixture.sql!(space, "update ledger_leaves set principal_id = 'someone-else' where idx = 3");
        assert.equal(await store.audit.firstColumnMismatch(), 3);
        const report = await verifyLedger(store.audit, { origin: 'test', verifiers: [] });
        assert.equal(report.problem?.code, 'index_column_mismatch');
        assert.equal(report.problem?.index, 3);
      });
    }

    it('checkpoints: the first per size stays; latest and paging', async () => {
      const store = await open(`cp${++spaces}`);
      const cp = (size: number, note: string) => ({
        size,
        rootHash: Buffer.alloc(32, size),
        note,
        createdAt: new Date().toISOString(),
      });
      assert.equal(await store.audit.latestCheckpoint(), undefined);
      assert.equal(await store.audit.addCheckpoint(cp(0, 'empty')), true);
      assert.equal(await store.audit.addCheckpoint(cp(5, 'five')), true);
      assert.equal(await store.audit.addCheckpoint(cp(5, 'other five')), false);
      assert.equal(await store.audit.addCheckpoint(cp(3, 'three')), true);
      assert.equal((await store.audit.latestCheckpoint())?.note, 'five');
      assert.deepEqual(
        (await store.audit.checkpoints()).map((c) => c.size),
        [0, 3, 5],
      );
      assert.deepEqual(
        (await store.audit.checkpoints({ afterSize: 0, limit: 1 })).map((c) => c.note),
        ['three'],
      );
      await assert.rejects(
        store.audit.addCheckpoint({ ...cp(7, 'x'), rootHash: Buffer.alloc(31) }),
        TypeError,
      );
    });

    it('queries filter by decision, model, data class, phase and time, paged by seq', async () => {
      const store = await open(`query${++spaces}`);
      const before = new Date(Date.now() - 1000).toISOString();
      for (let i = 0; i < 12; i++) {
        await store.audit.append(
          entry({ decision: i % 3 === 0 ? 'deny' : 'allow', phase: i === 5 ? 'control' : 'release' }),
        );
      }
      const all = await store.audit.list({ limit: 1000 });
      const check = async (
        query: Parameters<Store['audit']['list']>[0],
        keep: (e: AuditEntry) => boolean,
      ) => {
        const got = (await store.audit.list(query)).map((r) => r.seq);
        assert.deepEqual(
          got,
          all.filter((r) => keep(r.entry)).map((r) => r.seq),
          JSON.stringify(query),
        );
      };
      await check({ decision: 'deny' }, (e) => e.decision === 'deny');
      await check({ modelId: 'model-a' }, (e) => e.modelId === 'model-a');
      await check({ dataClass: 'confidential' }, (e) => e.dataClass === 'confidential');
      await check({ phase: 'control' }, (e) => e.phase === 'control');
      await check(
        { decision: 'allow', modelId: 'model-b' },
        (e) => e.decision === 'allow' && e.modelId === 'model-b',
      );
      await check({ since: before }, () => true);
      await check({ until: before }, () => false);
      const second = all[1]!.seq;
      await check(
        { afterSeq: second, decision: 'allow' },
        (e) => e.decision === 'allow' && all.findIndex((r) => r.entry === e) >= 2,
      );
    });
  });
}
