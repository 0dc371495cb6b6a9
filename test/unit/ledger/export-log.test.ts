// exportEntries over a real SQLite ledger with signed checkpoints: every exported proof verifies
// against the checkpoint the export names, entries past it are flagged, and tampering stops it.
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { AuditEntry } from '../../../src/core/index.js';
import { canonicalJson } from '../../../src/ledger/canonical-json.js';
import { openCheckpoint, signCheckpoint } from '../../../src/ledger/checkpoint.js';
import {
  entryOutcome,
  exportEntries,
  exportHeader,
  ExportLogError,
  resolveExportCheckpoint,
  toExportRecord,
  type ExportedEntry,
  type ExportEntriesOptions,
} from '../../../src/ledger/export-log.js';
import { hecEvent } from '../../../src/ledger/export/splunk-hec.js';
import { formatSyslog } from '../../../src/ledger/export/syslog-format.js';
import { leafHash } from '../../../src/ledger/merkle.js';
import { verifyInclusion } from '../../../src/ledger/merkle-verify.js';
import { signerFromPrivateKey, verifierFromPublicKey } from '../../../src/ledger/note.js';
import { leafText } from '../../../src/ledger/sequencer.js';
import { storedInclusionProof } from '../../../src/ledger/store-proofs.js';
import type { AuditRepository } from '../../../src/store/index.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { parseSyslog } from '../../helpers/siem.js';

const ORIGIN = 'export.test/ledger';

function entry(n: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    requestId: `req-${n}`,
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, n % 60)).toISOString(),
    phase: 'release',
    action: 'chat.completions',
    principalId: `user-${n % 3}`,
    authMethod: 'jwt',
    modelId: 'model-a',
    upstreamId: 'up',
    decision: 'allow',
    determiningPolicies: ['p-1'],
    obligations: [],
    bundleDigest: null,
    findings: n % 5 === 0 ? { EMAIL_ADDRESS: 1 } : {},
    transformations: [],
    status: 200,
    errorCode: null,
    stream: false,
    promptTokens: 3,
    completionTokens: 4,
    latencyMs: 1.5,
    promptSha256: null,
    answerSha256: null,
    dataClass: 'internal',
    ...overrides,
  };
}

interface Ledger {
  readonly store: SqliteStore;
  readonly path: string;
  checkpoint(): Promise<string>;
}

async function openLedger(dir: string, name: string, key: KeyObject): Promise<Ledger> {
  const path = join(dir, `${name}.db`);
  const store = new SqliteStore({ path });
  await store.migrate();
  return {
    store,
    path,
    async checkpoint() {
      const head = await store.audit.treeHead();
      const note = await signCheckpoint({ origin: ORIGIN, size: head.size, rootHash: head.rootHash }, [
        signerFromPrivateKey(ORIGIN, key),
      ]);
      await store.audit.addCheckpoint({
        size: head.size,
        rootHash: head.rootHash,
        note,
        createdAt: new Date().toISOString(),
      });
      return note;
    },
  };
}

async function append(store: SqliteStore, first: number, count: number): Promise<void> {
  for (let start = first; start < first + count; start += 500) {
    const ids = Array.from({ length: Math.min(500, first + count - start) }, (_, i) => start + i);
    await Promise.all(ids.map((n) => store.audit.append(entry(n))));
  }
}

async function collect(audit: AuditRepository, options: ExportEntriesOptions = {}): Promise<ExportedEntry[]> {
  const out: ExportedEntry[] = [];
  for await (const record of exportEntries(audit, options)) out.push(record);
  return out;
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ExportLogError, String(err));
    return err.code;
  }
  assert.fail('expected an ExportLogError');
}

/** What a reader does with a record: rebuild the leaf, check its hash, verify its proof. */
function verifyRecord(record: ExportedEntry, size: number, root: Uint8Array): void {
  const text = leafText(canonicalJson(record.entry), record.index, record.storedAt);
  assert.equal(leafHash(Buffer.from(text, 'utf8')).toString('hex'), record.leafHash, `leaf ${record.index}`);
  assert.ok(record.proof, `leaf ${record.index} has a proof`);
  assert.equal(record.proof.size, size);
  const hashes = record.proof.hashes.map((h) => Buffer.from(h, 'base64'));
  verifyInclusion(Buffer.from(record.leafHash, 'hex'), record.index, size, hashes, root);
}

describe('exportEntries', () => {
  let dir: string;
  let ledger: Ledger;
  let note: string;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const verifier = verifierFromPublicKey(ORIGIN, publicKey);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ztgate-export-log-'));
    ledger = await openLedger(dir, 'main', privateKey);
    await append(ledger.store, 0, 11);
    await ledger.checkpoint();
    await append(ledger.store, 11, 18);
    note = await ledger.checkpoint(); // size 29: the latest
    await append(ledger.store, 29, 8); // 37 entries, 8 not covered
  });
  after(async () => {
    await ledger?.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('proves every covered entry against the latest checkpoint and flags the later ones', async () => {
    const checkpoint = await resolveExportCheckpoint(ledger.store.audit);
    assert.equal(checkpoint.note, note);
    const header = await exportHeader(ledger.store.audit, checkpoint);
    assert.deepEqual([header.origin, header.from, header.to, header.coveredOnly], [ORIGIN, 0, 37, false]);
    // A reader trusts the header's checkpoint only once its signature verifies.
    const opened = openCheckpoint(header.checkpoint.note, [verifier], { origin: ORIGIN });
    assert.equal(opened.checkpoint.size, 29);
    assert.equal(Buffer.from(opened.checkpoint.rootHash).toString('base64'), header.checkpoint.rootHash);

    const listed = await ledger.store.audit.list({ limit: 1000 });
    for (const pageSize of [1, 7, 1000]) {
      const records = await collect(ledger.store.audit, { pageSize, checkpoint });
      assert.deepEqual(
        records.map((r) => r.index),
        listed.map((r) => r.seq - 1),
      );
      for (const [i, record] of records.entries()) {
        assert.deepEqual(record.entry, listed[i]!.entry);
        assert.equal(record.storedAt, listed[i]!.storedAt);
        if (record.index < 29) {
          assert.equal(record.covered, true);
          verifyRecord(record, 29, opened.checkpoint.rootHash);
          const expected = await storedInclusionProof(ledger.store.audit, record.index, 29);
          assert.deepEqual(
            record.proof?.hashes,
            expected.map((h) => h.toString('base64')),
          );
        } else {
          assert.equal(record.covered, false);
          assert.equal(record.proof, null);
        }
      }
    }
  });

  it('honours from/to, coveredOnly and an older checkpoint picked by size', async () => {
    let records = await collect(ledger.store.audit, { from: 5, to: 9 });
    assert.deepEqual(
      records.map((r) => r.index),
      [5, 6, 7, 8],
    );
    records = await collect(ledger.store.audit, { from: 25, coveredOnly: true, pageSize: 2 });
    assert.deepEqual(
      records.map((r) => [r.index, r.covered]),
      [25, 26, 27, 28].map((i) => [i, true]),
    );
    records = await collect(ledger.store.audit, { from: 30, to: 1000 });
    assert.deepEqual(
      records.map((r) => r.index),
      [30, 31, 32, 33, 34, 35, 36],
    );
    assert.deepEqual(await collect(ledger.store.audit, { from: 40 }), []);

    const older = await resolveExportCheckpoint(ledger.store.audit, 11);
    const root = openCheckpoint(older.note, [verifier]).checkpoint.rootHash;
    records = await collect(ledger.store.audit, { checkpoint: older, coveredOnly: true, pageSize: 3 });
    assert.equal(records.length, 11);
    for (const record of records) verifyRecord(record, 11, root);

    assert.equal(await refusal(resolveExportCheckpoint(ledger.store.audit, 12)), 'checkpoint_not_found');
    assert.equal(await refusal(collect(ledger.store.audit, { from: 9, to: 3 })), 'range_invalid');
    assert.equal(await refusal(collect(ledger.store.audit, { pageSize: 10_001 })), 'range_invalid');
  });

  it('maps records to the sinks’ form, which the syslog and HEC formats accept', async () => {
    const checkpoint = await resolveExportCheckpoint(ledger.store.audit);
    const [record] = await collect(ledger.store.audit, { from: 5, to: 6, checkpoint });
    const mapped = toExportRecord(record!, checkpoint);
    assert.equal(mapped.index, 5);
    assert.equal(mapped.time, record!.storedAt);
    assert.equal(mapped.outcome, 'allowed');
    assert.equal(mapped.principal, 'user-2');
    assert.equal(mapped.summary, 'allow chat.completions user-2 model-a 200');
    assert.deepEqual(mapped.proof, {
      treeSize: 29,
      rootHash: checkpoint.rootHash.toString('base64'),
      hashes: record!.proof!.hashes,
    });
    const syslog = parseSyslog(Buffer.from(formatSyslog(mapped, { hostname: 'h', procId: '1' })));
    assert.equal(syslog.msgText, canonicalJson(record!.entry));
    assert.equal(syslog.timestamp, record!.storedAt);
    assert.deepEqual(
      hecEvent(mapped, { host: 'h', source: 's', sourcetype: 't' }).event.entry,
      record!.entry,
    );

    const late = (await collect(ledger.store.audit, { from: 30, to: 31 }))[0]!;
    assert.equal(toExportRecord(late, checkpoint).proof, undefined);
    assert.equal(entryOutcome(entry(1, { decision: 'deny', status: 403 })), 'denied');
    assert.equal(entryOutcome(entry(1, { phase: 'refused', decision: null, status: 401 })), 'denied');
    assert.equal(entryOutcome(entry(1, { status: 502, errorCode: 'upstream_failed' })), 'error');
  });

  it('reads a few stored hashes per page of proofs, not log² n per entry', async () => {
    const big = await openLedger(dir, 'big', privateKey);
    try {
      await append(big.store, 0, 5000);
      await big.checkpoint();
      const audit = big.store.audit;
      let reads = 0;
      const counting = Object.assign(Object.create(audit) as AuditRepository, {
        node: (level: number, index: number) => (reads++, audit.node(level, index)),
        leafHashes: (start: number, end: number) => (reads++, audit.leafHashes(start, end)),
      });
      const checkpoint = await resolveExportCheckpoint(audit);
      const started = performance.now();
      let count = 0;
      for await (const record of exportEntries(counting, { checkpoint })) {
        if (record.proof) count++;
      }
      const ms = performance.now() - started;
      assert.equal(count, 5000);
      assert.ok(reads < 200, `${reads} node/leaf-hash reads for 5000 proofs`);
      assert.ok(ms < 5000, `5000 proofs took ${Math.round(ms)} ms`);
    } finally {
      await big.store.close();
    }
  });

  it('stops at a leaf that does not hash to its stored hash, or at a checkpoint that does not match', async () => {
    const bad = await openLedger(dir, 'tampered', privateKey);
    try {
      await append(bad.store, 0, 9);
      await bad.checkpoint();
      const db = new Database(bad.path);
      try {
        const row = db.prepare('select leaf from ledger_leaves where idx = 4').get() as { leaf: string };
        db.prepare('update ledger_leaves set leaf = ? where idx = 4').run(
          row.leaf.replace('user-1', 'user-9'),
        );
      } finally {
        db.close();
      }
      const records: number[] = [];
      const error = await refusal(
        (async () => {
          for await (const record of exportEntries(bad.store.audit, { pageSize: 2 }))
            records.push(record.index);
        })(),
      );
      assert.equal(error, 'leaf_mismatch');
      assert.deepEqual(records, [0, 1, 2, 3], 'nothing from the bad leaf on');

      // A checkpoint row whose note names another root, and a signed checkpoint of another tree.
      const { rootHash } = await bad.store.audit.treeHead();
      const other = await signCheckpoint({ origin: ORIGIN, size: 5, rootHash: Buffer.alloc(32, 7) }, [
        signerFromPrivateKey(ORIGIN, privateKey),
      ]);
      await bad.store.audit.addCheckpoint({
        size: 5,
        rootHash,
        note: other,
        createdAt: new Date().toISOString(),
      });
      assert.equal(await refusal(resolveExportCheckpoint(bad.store.audit, 5)), 'checkpoint_mismatch');
      await bad.store.audit.addCheckpoint({
        size: 6,
        rootHash: Buffer.alloc(32, 7),
        note: await signCheckpoint({ origin: ORIGIN, size: 6, rootHash: Buffer.alloc(32, 7) }, [
          signerFromPrivateKey(ORIGIN, privateKey),
        ]),
        createdAt: new Date().toISOString(),
      });
      assert.equal(await refusal(resolveExportCheckpoint(bad.store.audit, 6)), 'checkpoint_mismatch');
    } finally {
      await bad.store.close();
    }
  });

  it('refuses to export when no checkpoint was ever signed', async () => {
    const empty = await openLedger(dir, 'unsigned', privateKey);
    try {
      await append(empty.store, 0, 3);
      assert.equal(await refusal(collect(empty.store.audit)), 'no_checkpoint');
    } finally {
      await empty.store.close();
    }
  });
});
