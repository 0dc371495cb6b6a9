// Witnesses: the file witness (atomic, never moving backwards) and the HTTP witness client against
// a real c2sp.org/tlog-witness server written here (it checks the old size, the consistency proof
// and the log's signature, and answers with Ed25519 cosignature/v1 lines), driven by a real ledger
// on a SQLite file.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuditEntry } from '../../../src/core/index.js';
import { openCheckpoint, parseCheckpoint, signCheckpoint } from '../../../src/ledger/checkpoint.js';
import { verifyConsistency } from '../../../src/ledger/merkle-verify.js';
import {
  formatVerifierKey,
  parseNote,
  signerFromPrivateKey,
  verifierFromPublicKey,
  type NoteSigner,
  type NoteVerifier,
} from '../../../src/ledger/note.js';
import { storedConsistencyProof } from '../../../src/ledger/store-proofs.js';
import {
  createWitness,
  isWitnessError,
  type ConsistencyProver,
  type WitnessErrorCode,
} from '../../../src/ledger/witness.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { testEntry } from '../../helpers/ledger-builder.js';

const ORIGIN = 'ztgate.test/ledger';
const WITNESS_NAME = 'witness.test/w1';

let counter = 0;
const entry = (): AuditEntry => testEntry(++counter);

/** An Ed25519 cosigner key as c2sp.org/tlog-cosignature defines it (vkey type 0x04). */
function cosignerKey(name: string): { privateKey: KeyObject; vkey: string; keyId: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const blob = Buffer.concat([Buffer.from([0x04]), raw]);
  const keyId = createHash('sha256').update(`${name}\n`).update(blob).digest().subarray(0, 4);
  return { privateKey, keyId, vkey: `${name}+${keyId.toString('hex')}+${blob.toString('base64')}` };
}

/** Status, content type, body; and the old size and proof length, for the request log. */
type Reply = [number, string, string, number, number];

interface WitnessRequest {
  readonly old: number;
  readonly proofLines: number;
  readonly status: number;
}

/** The server side of c2sp.org/tlog-witness, for one known log. */
class TestWitnessServer {
  readonly requests: WitnessRequest[] = [];
  readonly cosigner = cosignerKey(WITNESS_NAME);
  /** Latest cosigned checkpoint per origin. */
  readonly state = new Map<string, { size: number; root: Buffer }>();
  /** 'cosignature' answers cosignature/v1 lines; 'garbage' answers a line whose signature fails. */
  mode: 'cosignature' | 'garbage' | 'hang' = 'cosignature';
  #server: Server | undefined;

  constructor(private readonly logVerifier: NoteVerifier) {}

  async start(): Promise<string> {
    this.#server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/witness`;
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (this.mode === 'hang') return;
    const [status, type, body, old, proofLines] = this.#add(req, Buffer.concat(chunks).toString('utf8'));
    this.requests.push({ old, proofLines, status });
    res.writeHead(status, { 'content-type': type }).end(body);
  }

  #add(req: IncomingMessage, body: string): Reply {
    const plain = 'text/plain';
    if (req.method !== 'POST' || req.url !== '/witness/add-checkpoint') return [405, plain, '', -1, 0];
    const split = body.indexOf('\n\n');
    const [oldLine = '', ...proofLines] = body.slice(0, split).split('\n');
    const old = /^old (0|[1-9][0-9]*)$/.test(oldLine) ? Number(oldLine.slice(4)) : NaN;
    if (split < 0 || Number.isNaN(old) || proofLines.length > 63) return [400, plain, '', old, 0];
    const proof = proofLines.map((line) => Buffer.from(line, 'base64'));
    const note = body.slice(split + 2);
    const reply = (status: number, type = plain, text = ''): Reply => [status, type, text, old, proof.length];
    const origin = parseNote(note).text.split('\n')[0] ?? '';
    if (origin !== ORIGIN) return reply(404);
    let checkpoint;
    try {
      ({ checkpoint } = openCheckpoint(note, [this.logVerifier], { origin: ORIGIN }));
    } catch {
      return reply(403);
    }
    if (old > checkpoint.size) return reply(400);
    const known = this.state.get(origin) ?? { size: 0, root: Buffer.alloc(0) };
    const root = Buffer.from(checkpoint.rootHash);
    const forked = old === checkpoint.size && !root.equals(known.root);
    if (old !== known.size || forked) return reply(409, 'text/x.tlog.size', `${known.size}\n`);
    if (old === 0 && proof.length > 0) return reply(400);
    if (old > 0) {
      try {
        verifyConsistency(old, checkpoint.size, proof, known.root, root);
      } catch {
        return reply(422);
      }
    }
    this.state.set(origin, { size: checkpoint.size, root });
    return reply(200, plain, this.#cosign(parseNote(note).text));
  }

  #cosign(text: string): string {
    const timestamp = Buffer.alloc(8);
    const now = BigInt(Math.floor(Date.now() / 1000));
    timestamp.writeBigUInt64BE(now);
    const message = Buffer.from(`cosignature/v1\ntime ${now}\n${text}`, 'utf8');
    const signature = sign(null, message, this.cosigner.privateKey);
    if (this.mode === 'garbage') signature[0] = (signature[0] ?? 0) ^ 0xff;
    const bytes = Buffer.concat([this.cosigner.keyId, timestamp, signature]);
    return `\u2014 ${WITNESS_NAME} ${bytes.toString('base64')}\n`;
  }
}

const rejectsWith = (promise: Promise<unknown>, code: WitnessErrorCode): Promise<void> =>
  assert.rejects(promise, (err) => isWitnessError(err, code) || assert.fail(`${code}? ${String(err)}`));

describe('ledger witnesses', () => {
  let dir: string;
  let store: SqliteStore;
  let signer: NoteSigner;
  let server: TestWitnessServer;
  let url: string;
  let prove: ConsistencyProver;

  /** Appends `n` entries and signs a checkpoint of the whole tree. */
  async function grow(n: number, by = signer, origin = ORIGIN): Promise<{ note: string; size: number }> {
    await Promise.all(Array.from({ length: n }, () => store.audit.append(entry())));
    const { size, rootHash } = await store.audit.treeHead();
    return { note: await signCheckpoint({ origin, size, rootHash }, [by]), size };
  }

  const http = (verifierKey?: string, prover = prove, timeoutMs = 5000) =>
    createWitness(
      { kind: 'http', url, timeoutMs, ...(verifierKey === undefined ? {} : { verifierKey }) },
      prover,
      dir,
    );

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ztgate-witness-'));
    store = new SqliteStore({ path: join(dir, 'ledger.db') });
    await store.migrate();
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    signer = signerFromPrivateKey(ORIGIN, privateKey);
    server = new TestWitnessServer(verifierFromPublicKey(ORIGIN, publicKey));
    url = await server.start();
    prove = (from, to) => storedConsistencyProof(store.audit, from, to);
  });

  after(async () => {
    await server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('http (c2sp.org/tlog-witness)', () => {
    it('publishes the first checkpoint with old 0, then later ones with a consistency proof', async () => {
      const witness = http(server.cosigner.vkey);
      assert.match(witness.name, /^http:http:\/\/127\.0\.0\.1:\d+\/witness$/);
      const first = await grow(5);
      await witness.publish(first.note, first.size);
      assert.deepEqual(server.requests.at(-1), { old: 0, proofLines: 0, status: 200 });
      const second = await grow(8);
      await witness.publish(second.note, second.size);
      const last = server.requests.at(-1)!;
      assert.equal(last.old, first.size);
      assert.equal(last.status, 200);
      assert.ok(last.proofLines > 0, 'a consistency proof was sent');
      assert.equal(server.state.get(ORIGIN)?.size, second.size);
      // An older checkpoint than the witness holds is not sent at all.
      const before = server.requests.length;
      await witness.publish(first.note, first.size);
      assert.equal(server.requests.length, before);
    });

    it('resyncs once on 409 from the size the witness reports', async () => {
      // A fresh client (as after a restart) believes the witness has nothing.
      const witness = http(server.cosigner.vkey);
      const held = server.state.get(ORIGIN)!.size;
      const next = await grow(3);
      const before = server.requests.length;
      await witness.publish(next.note, next.size);
      const sent = server.requests.slice(before);
      assert.deepEqual(
        sent.map((r) => [r.old, r.status]),
        [
          [0, 409],
          [held, 200],
        ],
      );
      assert.equal(server.state.get(ORIGIN)?.size, next.size);
    });

    it('does nothing when the witness already holds a larger tree', async () => {
      const witness = http(server.cosigner.vkey);
      const held = server.state.get(ORIGIN)!;
      const stale = await signCheckpoint(
        { origin: ORIGIN, size: 2, rootHash: (await store.audit.leafHashes(0, 1))[0]! },
        [signer],
      );
      await witness.publish(stale, 2);
      assert.equal(server.state.get(ORIGIN), held);
    });

    it('fails with witness_bad_proof when the witness refuses the proof, and keeps its size', async () => {
      const witness = http(server.cosigner.vkey);
      const a = await grow(4);
      await witness.publish(a.note, a.size); // 409 then 200: the client is in step
      const tampered: ConsistencyProver = async (from, to) => {
        const proof = (await prove(from, to)).map((hash) => Buffer.from(hash));
        proof[0]![0] = (proof[0]![0] ?? 0) ^ 1;
        return proof;
      };
      const bad = http(server.cosigner.vkey, tampered);
      await bad.publish(a.note, a.size); // in step too: 409, then old = size with no proof
      const b = await grow(4);
      const before = server.requests.length;
      await rejectsWith(bad.publish(b.note, b.size), 'witness_bad_proof');
      assert.equal(server.requests.at(-1)?.status, 422);
      assert.ok(server.requests.length > before);
      assert.equal(server.state.get(ORIGIN)?.size, a.size, 'the witness did not move');
      await witness.publish(b.note, b.size);
      assert.equal(server.state.get(ORIGIN)?.size, b.size);
    });

    it('verifies the cosignature: a bad one or one by another key is refused', async () => {
      const other = cosignerKey(WITNESS_NAME);
      const c = await grow(2);
      await rejectsWith(http(other.vkey).publish(c.note, c.size), 'witness_cosignature_invalid');
      server.mode = 'garbage';
      try {
        const d = await grow(2);
        await rejectsWith(http(server.cosigner.vkey).publish(d.note, d.size), 'witness_cosignature_invalid');
      } finally {
        server.mode = 'cosignature';
      }
      // Without a verifierKey, the answer is only checked to be signature lines.
      const e = await grow(2);
      await http().publish(e.note, e.size);
      assert.equal(server.state.get(ORIGIN)?.size, e.size);
    });

    it('maps 403 (unknown signer) and 404 (unknown log) to stable codes', async () => {
      const stranger = signerFromPrivateKey(ORIGIN, generateKeyPairSync('ed25519').privateKey);
      const forged = await grow(1, stranger);
      await rejectsWith(http().publish(forged.note, forged.size), 'witness_forbidden');
      const otherLog = signerFromPrivateKey('other.test/log', generateKeyPairSync('ed25519').privateKey);
      const foreign = await grow(1, otherLog, 'other.test/log');
      await rejectsWith(http().publish(foreign.note, foreign.size), 'witness_unknown_log');
    });

    it('gives up after timeoutMs when the witness does not answer', async () => {
      server.mode = 'hang';
      try {
        const f = await grow(1);
        const started = Date.now();
        await rejectsWith(http(undefined, prove, 200).publish(f.note, f.size), 'witness_unreachable');
        assert.ok(Date.now() - started < 3000);
      } finally {
        server.mode = 'cosignature';
      }
    });

    it('refuses a note that is not a checkpoint of the given size, and a malformed key', async () => {
      const g = await grow(1);
      await rejectsWith(http().publish(g.note, g.size + 1), 'witness_checkpoint_invalid');
      assert.throws(
        () => http('witness.test+00000000+AQ=='),
        (err: unknown) => isWitnessError(err, 'witness_key_invalid'),
      );
    });

    it('accepts plain Ed25519 note signatures when the verifierKey is a type 0x01 key', async () => {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const plain = formatVerifierKey('witness.test/plain', publicKey);
      const plainSigner = signerFromPrivateKey('witness.test/plain', privateKey);
      const h = await grow(1);
      // A one-off server answering with a plain note signature over the checkpoint body.
      const body = parseNote(h.note).text;
      const answer = (await signCheckpoint(body, [plainSigner])).slice(body.length + 1);
      const oneOff = createServer((_req, res) => res.writeHead(200).end(answer));
      await new Promise<void>((resolve) => oneOff.listen(0, '127.0.0.1', resolve));
      try {
        const port = (oneOff.address() as AddressInfo).port;
        const w = createWitness(
          { kind: 'http', url: `http://127.0.0.1:${port}`, verifierKey: plain, timeoutMs: 2000 },
          prove,
          dir,
        );
        await w.publish(h.note, h.size);
      } finally {
        oneOff.closeAllConnections();
        await new Promise<void>((resolve) => oneOff.close(() => resolve()));
      }
    });
  });

  describe('file', () => {
    it('writes the checkpoint atomically, relative to home, and never moves backwards', async () => {
      const witness = createWitness({ kind: 'file', path: 'witness/latest.checkpoint' }, prove, dir);
      const target = join(dir, 'witness', 'latest.checkpoint');
      const small = await grow(1);
      const big = await grow(3);
      await witness.publish(big.note, big.size);
      assert.equal(readFileSync(target, 'utf8'), big.note);
      await witness.publish(small.note, small.size);
      assert.equal(readFileSync(target, 'utf8'), big.note, 'a smaller tree is ignored');
      assert.deepEqual(readdirSync(join(dir, 'witness')), ['latest.checkpoint'], 'no temp file left');
      // A new witness (a restart) reads the size back from the file.
      const again = createWitness({ kind: 'file', path: target }, prove, '/nonexistent');
      await again.publish(small.note, small.size);
      assert.equal(readFileSync(target, 'utf8'), big.note);
    });

    it('a reader never sees a partial file while publishes race', async () => {
      const witness = createWitness({ kind: 'file', path: 'race.checkpoint' }, prove, dir);
      const target = join(dir, 'race.checkpoint');
      const notes = [];
      for (let i = 0; i < 20; i++) notes.push(await grow(1));
      let reads = 0;
      let writing = true;
      const reader = (async () => {
        while (writing) {
          try {
            const text = readFileSync(target, 'utf8');
            parseCheckpoint(parseNote(text).text);
            reads++;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      // Out of order and concurrent: the file ends at the largest size.
      await Promise.all([...notes].reverse().map((n) => witness.publish(n.note, n.size)));
      await Promise.all(notes.map((n) => witness.publish(n.note, n.size)));
      writing = false;
      await reader;
      assert.ok(reads > 0);
      assert.equal(readFileSync(target, 'utf8'), notes.at(-1)!.note);
    });

    it('replaces a file that does not hold a checkpoint', async () => {
      const target = join(dir, 'junk.checkpoint');
      writeFileSync(target, 'not a checkpoint');
      const j = await grow(1);
      await createWitness({ kind: 'file', path: target }, prove, dir).publish(j.note, j.size);
      assert.equal(readFileSync(target, 'utf8'), j.note);
    });
  });
});
