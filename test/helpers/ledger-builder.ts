// Real ledgers for verification tests: entries appended through a Store, checkpoints signed with a
// note signer over the tree head, and direct edits of the SQLite file (as an attacker holding the
// database would make them, bypassing the store).
import { generateKeyPairSync } from 'node:crypto';
import Database from 'better-sqlite3';
import type { AuditEntry } from '../../src/core/index.js';
import { canonicalJson } from '../../src/ledger/canonical-json.js';
import { signCheckpoint } from '../../src/ledger/checkpoint.js';
import { leafHash } from '../../src/ledger/merkle.js';
import {
  formatVerifierKey,
  signerFromPrivateKey,
  verifierFromPublicKey,
  type NoteSigner,
  type NoteVerifier,
} from '../../src/ledger/note.js';
import type { AuditRepository } from '../../src/store/index.js';

export const TEST_ORIGIN = 'test.local/ledger';

/** A release entry with fields that vary with n (and a string that needs escaping). */
export function testEntry(n: number): AuditEntry {
  return {
    requestId: `req-${n}`,
    time: new Date(Date.UTC(2026, 2, 3, 4, 5, n % 60)).toISOString(),
    phase: n % 7 === 3 ? 'refused' : 'release',
    action: 'chat.completions',
    principalId: `user-${n % 5}`,
    authMethod: 'jwt',
    modelId: n % 2 ? 'model-a' : 'model-b',
    upstreamId: 'up',
    decision: n % 7 === 3 ? 'deny' : 'allow',
    determiningPolicies: ['allow "employees"\t\\'],
    obligations: [],
    bundleDigest: null,
    findings: n % 3 === 0 ? { EMAIL_ADDRESS: 1 + (n % 4) } : {},
    transformations: [],
    status: n % 7 === 3 ? 403 : 200,
    errorCode: null,
    stream: n % 2 === 0,
    promptTokens: 10 + n,
    completionTokens: 20 + n,
    latencyMs: 1.5 + n,
    promptSha256: null,
    answerSha256: null,
    dataClass: 'internal',
    sessionId: `séance-✓-${n}`,
  };
}

/** An Ed25519 test key as a note signer and verifier for `origin`. */
export function testLedgerKey(origin = TEST_ORIGIN): {
  signer: NoteSigner;
  verifier: NoteVerifier;
  verifierKey: string;
} {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    signer: signerFromPrivateKey(origin, privateKey),
    verifier: verifierFromPublicKey(origin, publicKey),
    verifierKey: formatVerifierKey(origin, publicKey),
  };
}

/** Signs the current tree head and stores it as a checkpoint; returns the signed note. */
export async function checkpointHead(
  audit: AuditRepository,
  signer: NoteSigner,
  origin = TEST_ORIGIN,
): Promise<string> {
  const head = await audit.treeHead();
  const note = await signCheckpoint({ origin, size: head.size, rootHash: head.rootHash }, [signer]);
  await audit.addCheckpoint({ ...head, note, createdAt: new Date().toISOString() });
  return note;
}

/**
 * Appends entries until the log has `size` leaves, storing a signed checkpoint whenever the size
 * reaches one of `checkpointsAt` (0 included: the empty tree's checkpoint).
 */
export async function growLedger(
  audit: AuditRepository,
  size: number,
  checkpointsAt: readonly number[],
  signer: NoteSigner,
  origin = TEST_ORIGIN,
): Promise<void> {
  for (let current = await audit.count(); ; current += 1) {
    if (checkpointsAt.includes(current)) await checkpointHead(audit, signer, origin);
    if (current >= size) return;
    await audit.append(testEntry(current));
  }
}

type LeafRow = { idx: number; leaf_hash: Buffer; leaf: string };

/** Direct edits of a ledger's SQLite file, each in its own connection. */
export function sqliteTamper(path: string) {
  const run = <T>(work: (db: Database.Database) => T): T => {
    const db = new Database(path);
    try {
      return work(db);
    } finally {
      db.close();
    }
  };
  const row = (db: Database.Database, idx: number): LeafRow => {
    const found = db
      .prepare<[number], LeafRow>('select idx, leaf_hash, leaf from ledger_leaves where idx = ?')
      .get(idx);
    if (!found) throw new Error(`no row ${idx}`);
    return found;
  };
  /** The leaf text of row idx with entry.requestId changed, still canonical JSON. */
  const edited = (text: string): string => {
    const value = JSON.parse(text) as { entry: { requestId: string } };
    value.entry.requestId = `${value.entry.requestId}-forged`;
    return canonicalJson(value);
  };
  return {
    read: (idx: number): LeafRow => run((db) => row(db, idx)),
    sql: (text: string, ...params: unknown[]): void => run((db) => void db.prepare(text).run(...params)),
    /** Changes one field of leaf idx; with `rehash`, its stored leaf hash too. */
    modify: (idx: number, rehash: boolean): void =>
      run((db) => {
        const text = edited(row(db, idx).leaf);
        db.prepare('update ledger_leaves set leaf = ? where idx = ?').run(text, idx);
        if (rehash) {
          const hash = leafHash(Buffer.from(text, 'utf8'));
          db.prepare('update ledger_leaves set leaf_hash = ? where idx = ?').run(hash, idx);
        }
      }),
    /** Replaces leaf idx's text (and its hash, recomputed). */
    setText: (idx: number, text: string): void =>
      run((db) => {
        const hash = leafHash(Buffer.from(text, 'utf8'));
        db.prepare('update ledger_leaves set leaf = ?, leaf_hash = ? where idx = ?').run(text, hash, idx);
      }),
    /** Swaps the leaf texts and hashes of two rows. */
    swap: (a: number, b: number): void =>
      run((db) => {
        const [ra, rb] = [row(db, a), row(db, b)];
        const update = db.prepare('update ledger_leaves set leaf = ?, leaf_hash = ? where idx = ?');
        db.transaction(() => {
          update.run(rb.leaf, rb.leaf_hash, a);
          update.run(ra.leaf, ra.leaf_hash, b);
        })();
      }),
    /** Copies row `from` (all columns) to a new row at index `to`. */
    copy: (from: number, to: number): void =>
      run((db) => {
        db.prepare(
          `insert into ledger_leaves (idx, leaf_hash, request_id, principal_id, phase, stored_at, decision, model_id, data_class, leaf)
           select ?, leaf_hash, request_id, principal_id, phase, stored_at, decision, model_id, data_class, leaf
           from ledger_leaves where idx = ?`,
        ).run(to, from);
      }),
    /**
     * Inserts a row at idx, shifting every later row up by one: a well-formed leaf that names idx
     * and hashes right (an edited copy of the row that was there).
     */
    insertShifting: (idx: number): void =>
      run((db) => {
        const original = row(db, idx);
        const text = edited(original.leaf);
        db.transaction(() => {
          const later = db
            .prepare<[number], { idx: number }>(
              'select idx from ledger_leaves where idx >= ? order by idx desc',
            )
            .all(idx);
          const move = db.prepare('update ledger_leaves set idx = ? where idx = ?');
          for (const { idx: i } of later) move.run(i + 1, i);
          db.prepare(
            `insert into ledger_leaves (idx, leaf_hash, request_id, principal_id, phase, stored_at, decision, model_id, data_class, leaf)
             select ?, ?, request_id, principal_id, phase, stored_at, decision, model_id, data_class, ?
             from ledger_leaves where idx = ?`,
          ).run(idx, leafHash(Buffer.from(text, 'utf8')), text, idx + 1);
        })();
      }),
  };
}
