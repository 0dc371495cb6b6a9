// verifyLedger over real stores: a clean ledger verifies (SQLite and PostgreSQL), and every edit an
// attacker holding the SQLite file can make (modify, modify and re-hash, delete, insert, reorder,
// forge a checkpoint, truncate) is detected at the right index.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openCheckpoint, signCheckpoint } from '../../../src/ledger/checkpoint.js';
import { verifyConsistency } from '../../../src/ledger/merkle-verify.js';
import { storedConsistencyProof, storedRootHash } from '../../../src/ledger/store-proofs.js';
import { verifyLedger, type LedgerVerifyOptions } from '../../../src/ledger/verify-log.js';
import type { Store } from '../../../src/store/index.js';
import { ledgerRowOf } from '../../../src/store/ledger-shared.js';
import { ledgerCommitter } from '../../../src/store/sqlite-ledger.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import {
  checkpointHead,
  growLedger,
  sqliteTamper,
  testEntry,
  testLedgerKey,
  TEST_ORIGIN,
} from '../../helpers/ledger-builder.js';
import { postgresFixture, type StoreFixture } from '../../helpers/store-fixtures.js';

const SIZE = 40;
const CHECKPOINTS = [0, 16, 30, 37];

describe('verifyLedger', () => {
  const key = testLedgerKey();
  const options: LedgerVerifyOptions = { origin: TEST_ORIGIN, verifiers: [key.verifier] };
  let dir: string;
  let ledgers = 0;
  const opened: Store[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ztgate-verify-log-'));
  });
  after(async () => {
    for (const store of opened) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A new ledger file of SIZE leaves with signed checkpoints at CHECKPOINTS. */
  async function ledger(size = SIZE, checkpoints = CHECKPOINTS) {
    const path = join(dir, `ledger-${++ledgers}.db`);
    const store = new SqliteStore({ path });
    opened.push(store);
    await store.migrate();
    await growLedger(store.audit, size, checkpoints, key.signer);
    return { store, audit: store.audit, path, tamper: sqliteTamper(path) };
  }

  it('passes a clean ledger: every leaf, checkpoint and the tree head', async () => {
    const { audit } = await ledger();
    const report = await verifyLedger(audit, options);
    assert.equal(report.problem, undefined);
    assert.equal(report.ok, true);
    assert.equal(report.size, SIZE);
    assert.equal(report.checkpoints, CHECKPOINTS.length);
    assert.equal(report.coveredSize, 37);
    assert.equal(report.uncoveredLeaves, 3, 'leaves after the last checkpoint are reported, not an error');
    assert.deepEqual(report.rootHash, (await audit.treeHead()).rootHash);
  });

  it('passes an empty ledger and a ledger without checkpoints', async () => {
    const empty = await verifyLedger((await ledger(0, [0])).audit, options);
    assert.deepEqual([empty.ok, empty.size, empty.checkpoints, empty.coveredSize], [true, 0, 1, 0]);
    const unsigned = await verifyLedger((await ledger(5, [])).audit, options);
    assert.deepEqual(
      [unsigned.ok, unsigned.size, unsigned.checkpoints, unsigned.uncoveredLeaves],
      [true, 5, 0, 5],
    );
  });

  it('finds later checkpoints consistent with earlier ones, and catches a signed fork', async () => {
    const { audit } = await ledger();
    const signed = (await audit.checkpoints({ limit: 1000 })).map(
      (row) => openCheckpoint(row.note, [key.verifier], { origin: TEST_ORIGIN }).checkpoint,
    );
    assert.deepEqual(
      signed.map((c) => c.size),
      CHECKPOINTS,
    );
    for (let i = 2; i < signed.length; i++) {
      const [older, newer] = [signed[i - 1]!, signed[i]!];
      const proof = await storedConsistencyProof(audit, older.size, newer.size);
      verifyConsistency(older.size, newer.size, proof, older.rootHash, newer.rootHash);
    }

    // The same key signs a tree of 34 other entries: a split view. It cannot extend checkpoint 30.
    const forkStore = new SqliteStore({ path: join(dir, 'fork.db') });
    opened.push(forkStore);
    await forkStore.migrate();
    for (let n = 0; n < 34; n++) await forkStore.audit.append(testEntry(1000 + n));
    const fork = await forkStore.audit.treeHead();
    const note = await signCheckpoint({ origin: TEST_ORIGIN, size: 34, rootHash: fork.rootHash }, [
      key.signer,
    ]);
    const thirty = signed[2]!;
    const proof = await storedConsistencyProof(audit, 30, 34);
    assert.throws(() => verifyConsistency(30, 34, proof, thirty.rootHash, fork.rootHash));
    await audit.addCheckpoint({
      size: 34,
      rootHash: fork.rootHash,
      note,
      createdAt: new Date().toISOString(),
    });
    const report = await verifyLedger(audit, options);
    assert.equal(report.ok, false);
    assert.equal(report.problem?.code, 'checkpoint_mismatch');
    assert.equal(
      report.problem?.index,
      30,
      'the first index that may be bad: after the last good checkpoint',
    );
    assert.equal(report.problem?.checkpointSize, 34);
    assert.match(report.problem?.message ?? '', /leaves 30\.\.33/);
    assert.equal(report.coveredSize, 30);
  });

  it('checks external checkpoints: a good one counts, a fork, a foreign key and a longer log fail', async () => {
    const { audit } = await ledger();
    const head = await audit.treeHead();
    const root = async (size: number) => storedRootHash(audit, size);
    const sign = (size: number, rootHash: Uint8Array, signer = key.signer) =>
      signCheckpoint({ origin: TEST_ORIGIN, size, rootHash }, [signer]);

    const good = await verifyLedger(audit, {
      ...options,
      externalCheckpoints: [await sign(39, await root(39))],
    });
    assert.deepEqual([good.ok, good.checkpoints, good.coveredSize], [true, CHECKPOINTS.length + 1, 39]);

    const forked = await verifyLedger(audit, {
      ...options,
      externalCheckpoints: [await sign(20, await root(21))],
    });
    assert.equal(forked.problem?.code, 'checkpoint_mismatch');
    assert.equal(forked.problem?.index, 16);
    assert.match(forked.problem?.message ?? '', /external checkpoint #1/);

    const stranger = testLedgerKey();
    const foreign = await verifyLedger(audit, {
      ...options,
      externalCheckpoints: [await sign(SIZE, head.rootHash, stranger.signer)],
    });
    assert.equal(foreign.problem?.code, 'checkpoint_signature');

    const longer = await verifyLedger(audit, {
      ...options,
      externalCheckpoints: [await sign(45, head.rootHash)],
    });
    assert.equal(longer.problem?.code, 'log_truncated');
    assert.equal(longer.problem?.index, SIZE);
  });

  it('(1) a modified leaf text: leaf_modified at its index', async () => {
    const { audit, tamper } = await ledger();
    tamper.modify(21, false);
    const report = await verifyLedger(audit, options);
    assert.deepEqual([report.ok, report.problem?.code, report.problem?.index], [false, 'leaf_modified', 21]);
    assert.equal(report.coveredSize, 16, 'checkpoints before it still matched');
  });

  it('(2) a modified text with its hash recomputed: checkpoint_mismatch naming the range', async () => {
    const { audit, tamper } = await ledger();
    tamper.modify(21, true);
    const report = await verifyLedger(audit, options);
    assert.equal(report.problem?.code, 'checkpoint_mismatch');
    assert.equal(report.problem?.index, 16);
    assert.equal(report.problem?.checkpointSize, 30);
    assert.match(report.problem?.message ?? '', /leaves 16\.\.29/);
  });

  it('(2b) a re-hashed edit after the last checkpoint: the tree head no longer matches', async () => {
    const { audit, tamper } = await ledger();
    tamper.modify(38, true);
    const report = await verifyLedger(audit, options);
    assert.equal(report.problem?.code, 'state_mismatch');
    assert.equal(report.coveredSize, 37);
  });

  it('(3) a deleted row: leaf_missing at its index', async () => {
    const { audit, tamper } = await ledger();
    tamper.sql('delete from ledger_leaves where idx = 12');
    const report = await verifyLedger(audit, options);
    assert.deepEqual([report.problem?.code, report.problem?.index], ['leaf_missing', 12]);
  });

  it('(4) an inserted row: a copy appended at the end, or a row shifted in', async () => {
    const appended = await ledger();
    appended.tamper.copy(5, SIZE);
    let report = await verifyLedger(appended.audit, options);
    assert.deepEqual([report.problem?.code, report.problem?.index], ['leaf_inserted', SIZE]);

    const far = await ledger();
    far.tamper.copy(5, SIZE + 50_000);
    report = await verifyLedger(far.audit, options);
    assert.deepEqual([report.problem?.code, report.problem?.index], ['leaf_inserted', SIZE + 50_000]);

    const shifted = await ledger();
    shifted.tamper.insertShifting(10);
    report = await verifyLedger(shifted.audit, options);
    assert.equal(report.problem?.code, 'leaf_inserted');
    assert.equal(report.problem?.index, 11, 'the shifted row names the index it came from');
    assert.match(report.problem?.message ?? '', /holds the entry of leaf 10/);
  });

  it('(5) two rows swapped (texts and hashes): detected at the first', async () => {
    const { audit, tamper } = await ledger();
    tamper.swap(7, 9);
    const report = await verifyLedger(audit, options);
    assert.deepEqual([report.problem?.code, report.problem?.index], ['leaf_out_of_order', 7]);
  });

  it('(6) a forged checkpoint row: changed root column, changed note, foreign signature', async () => {
    const byColumn = await ledger();
    byColumn.tamper.sql('update ledger_checkpoints set root_hash = randomblob(32) where size = 30');
    let report = await verifyLedger(byColumn.audit, options);
    assert.deepEqual([report.problem?.code, report.problem?.checkpointSize], ['checkpoint_row_mismatch', 30]);

    const byNote = await ledger();
    const note = (await byNote.audit.checkpoints({ afterSize: 29, limit: 1 }))[0]!.note;
    const lines = note.split('\n');
    lines[2] = Buffer.alloc(32, 7).toString('base64');
    byNote.tamper.sql(
      'update ledger_checkpoints set note = ?, root_hash = ? where size = 30',
      lines.join('\n'),
      Buffer.alloc(32, 7),
    );
    report = await verifyLedger(byNote.audit, options);
    assert.deepEqual([report.problem?.code, report.problem?.checkpointSize], ['checkpoint_signature', 30]);

    const foreign = await ledger();
    await checkpointHead(foreign.audit, testLedgerKey().signer);
    report = await verifyLedger(foreign.audit, options);
    assert.deepEqual([report.problem?.code, report.problem?.checkpointSize], ['checkpoint_signature', SIZE]);
    const unverifiable = await verifyLedger(foreign.audit, { ...options, verifiers: [] });
    assert.equal(
      unverifiable.problem?.code,
      'checkpoint_signature',
      'no key: nothing verifies (fail closed)',
    );
  });

  it('(7) a truncated tail below a checkpoint: log_truncated', async () => {
    const { audit, tamper } = await ledger();
    tamper.sql('delete from ledger_leaves where idx >= 33');
    const report = await verifyLedger(audit, options);
    assert.deepEqual(
      [report.problem?.code, report.problem?.index, report.problem?.checkpointSize],
      ['log_truncated', 33, 37],
    );
    assert.equal(report.coveredSize, 30);

    const { audit: tail, tamper: cut } = await ledger();
    cut.sql('delete from ledger_leaves where idx >= 38');
    const beyond = await verifyLedger(tail, options);
    assert.deepEqual(
      [beyond.problem?.code, beyond.problem?.index],
      ['log_truncated', 38],
      'the tree head counts 40',
    );
  });

  it('refuses a leaf that is not canonical JSON naming its index, even with a matching hash', async () => {
    const { audit, tamper } = await ledger();
    const text = tamper.read(4).leaf;
    tamper.setText(4, text.replace('"index":4', '"index": 4'));
    let report = await verifyLedger(audit, options);
    assert.deepEqual([report.problem?.code, report.problem?.index], ['leaf_malformed', 4]);
    tamper.setText(4, text.replace('"index":4', '"index":5'));
    report = await verifyLedger(audit, options);
    assert.deepEqual([report.problem?.code, report.problem?.index], ['leaf_out_of_order', 4]);
  });

  it('streams a ledger of several pages and finds a gap wider than a page', async () => {
    const path = join(dir, 'large.db');
    const size = 25_003;
    const store = new SqliteStore({ path });
    await store.migrate();
    await store.close();
    const db = new Database(path);
    db.pragma('synchronous = off');
    const commit = ledgerCommitter(db);
    for (let start = 0; start < size; start += 1000) {
      const rows = [];
      for (let n = start; n < Math.min(size, start + 1000); n++) rows.push(ledgerRowOf(testEntry(n)));
      commit(rows);
    }
    db.close();
    const large = new SqliteStore({ path });
    opened.push(large);
    for (const at of [10_000, 20_000, 25_000]) {
      const rootHash = await storedRootHash(large.audit, at);
      const note = await signCheckpoint({ origin: TEST_ORIGIN, size: at, rootHash }, [key.signer]);
      await large.audit.addCheckpoint({ size: at, rootHash, note, createdAt: new Date().toISOString() });
    }
    const progress: number[] = [];
    const report = await verifyLedger(large.audit, { ...options, onProgress: (done) => progress.push(done) });
    assert.deepEqual(
      [report.ok, report.size, report.checkpoints, report.uncoveredLeaves],
      [true, size, 3, 3],
    );
    assert.deepEqual(progress, [10_000, 20_000, size]);

    sqliteTamper(path).sql('delete from ledger_leaves where idx >= 9990 and idx < 20500');
    const gap = await verifyLedger(large.audit, options);
    assert.deepEqual([gap.problem?.code, gap.problem?.index], ['leaf_missing', 9990]);
  });
});

describe('verifyLedger on PostgreSQL', () => {
  let fixture: StoreFixture;
  let store: Store;
  const key = testLedgerKey();
  before(async () => {
    fixture = await postgresFixture();
    store = await fixture.open('verify');
    await store.migrate();
  });
  after(async () => {
    await store.close();
    await fixture.cleanup();
  });

  it('passes a clean ledger and catches a modified row', async () => {
    await growLedger(store.audit, SIZE, CHECKPOINTS, key.signer);
    const options = { origin: TEST_ORIGIN, verifiers: [key.verifier] };
    const report = await verifyLedger(store.audit, options);
    assert.equal(report.problem, undefined);
    assert.deepEqual([report.ok, report.size, report.checkpoints, report.coveredSize], [true, SIZE, 4, 37]);
    await fixture.sql!(
      'verify',
      `update ledger_leaves set leaf = replace(leaf, '"req-9"', '"req-99"') where idx = 9`,
    );
    const tampered = await verifyLedger(store.audit, options);
    assert.deepEqual([tampered.problem?.code, tampered.problem?.index], ['leaf_modified', 9]);
  });
});
