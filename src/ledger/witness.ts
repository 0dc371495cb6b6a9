/**
 * Witnesses: parties outside the log that hold every new checkpoint, so that a rewritten history
 * shows up as a fork. `file` keeps the latest signed checkpoint in a file (for a backup job or an
 * auditor to pick up); `http` speaks c2sp.org/tlog-witness and checks the returned cosignature.
 */
import { createHash, createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { request } from 'undici';
import type { WitnessConfig } from '../config/schema-ledger.js';
import { parseCheckpoint } from './checkpoint.js';
import { isValidKeyName, openNote, parseNote, verifierFromKey, type NoteVerifier } from './note.js';

/** Consistency proofs the HTTP witness needs (from the ledger's storage). */
export type ConsistencyProver = (from: number, to: number) => Promise<readonly Buffer[]>;

export interface Witness {
  readonly name: string;
  /** Hands a new signed checkpoint (note text) of `size` leaves to the witness; rejects when it refused. */
  publish(note: string, size: number): Promise<void>;
}

export type WitnessErrorCode =
  | 'witness_key_invalid' // the configured verifierKey is not a usable vkey
  | 'witness_checkpoint_invalid' // the note handed in is not a checkpoint of the given size
  | 'witness_write_failed' // the file witness could not read or replace its file
  | 'witness_unreachable' // network failure or timeout
  | 'witness_bad_request' // 400: the witness found the request malformed
  | 'witness_forbidden' // 403: the witness does not trust the log's signature
  | 'witness_unknown_log' // 404: the witness does not know the log's origin
  | 'witness_conflict' // 409 that a resync did not resolve: a fork, or the roots differ
  | 'witness_bad_proof' // 422: the consistency proof did not verify
  | 'witness_http_status' // any other status
  | 'witness_response_malformed' // a response that does not follow the protocol
  | 'witness_cosignature_invalid'; // no valid cosignature by the configured witness key

/** A witness failure with a stable code; messages hold no note content and no credentials. */
export class WitnessError extends Error {
  readonly code: WitnessErrorCode;

  constructor(code: WitnessErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WitnessError';
    this.code = code;
  }
}

export function isWitnessError(err: unknown, code?: WitnessErrorCode): err is WitnessError {
  return err instanceof WitnessError && (code === undefined || err.code === code);
}

export function createWitness(config: WitnessConfig, prove: ConsistencyProver, home: string): Witness {
  if (config.kind === 'file') return new FileWitness(resolve(home, config.path));
  return new HttpWitness(config, prove);
}

/** Runs publishes one at a time, in call order (the checkpointer does not await them). */
class Serial {
  #tail: Promise<unknown> = Promise.resolve();

  run(task: () => Promise<void>): Promise<void> {
    const next = this.#tail.then(task);
    this.#tail = next.catch(() => undefined);
    return next;
  }
}

/** The checkpoint body of `note`, after checking that it is a checkpoint of `size` leaves. */
function checkpointBody(note: string, size: number): string {
  try {
    const text = parseNote(note).text;
    if (parseCheckpoint(text).size === size) return text;
  } catch (cause) {
    throw new WitnessError('witness_checkpoint_invalid', 'not a signed checkpoint', { cause });
  }
  throw new WitnessError('witness_checkpoint_invalid', `the checkpoint is not of size ${size}`);
}

/**
 * Keeps the latest checkpoint in a file, replaced atomically (temp file in the same directory,
 * fsync, rename, fsync of the directory) and never by a smaller tree than it holds.
 */
class FileWitness implements Witness {
  readonly name: string;
  readonly #serial = new Serial();
  // The size in the file; read from it on the first publish, so a restart cannot move it back.
  #written: number | undefined;

  constructor(readonly path: string) {
    this.name = `file:${path}`;
  }

  publish(note: string, size: number): Promise<void> {
    return this.#serial.run(async () => {
      checkpointBody(note, size);
      this.#written ??= await this.#sizeInFile();
      if (size < this.#written) return;
      await this.#replace(note);
      this.#written = size;
    });
  }

  async #sizeInFile(): Promise<number> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return -1;
      throw new WitnessError('witness_write_failed', `${this.name}: cannot read the file`, { cause });
    }
    try {
      return parseCheckpoint(parseNote(text).text).size;
    } catch {
      return -1; // not a checkpoint: nothing to protect, replace it
    }
  }

  async #replace(note: string): Promise<void> {
    const dir = dirname(this.path);
    const temp = join(dir, `.${basename(this.path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await mkdir(dir, { recursive: true });
      const handle = await open(temp, 'wx', 0o644);
      try {
        await handle.writeFile(note, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.path);
    } catch (cause) {
      await unlink(temp).catch(() => undefined);
      throw new WitnessError('witness_write_failed', `${this.name}: cannot write the file`, { cause });
    }
    // The rename is durable only once the directory entry is flushed too.
    const dirHandle = await open(dir, 'r').catch(() => undefined);
    try {
      await dirHandle?.sync();
    } catch {
      // Some file systems refuse fsync on a directory; the rename itself has happened.
    } finally {
      await dirHandle?.close();
    }
  }
}

type HttpWitnessConfig = Extract<WitnessConfig, { kind: 'http' }>;

const SIZE_CONTENT_TYPE = 'text/x.tlog.size';
const MAX_RESPONSE_BYTES = 64 * 1024;
const CANONICAL_DECIMAL = /^(?:0|[1-9][0-9]*)$/;

type AddAnswer =
  { readonly kind: 'cosigned'; readonly body: string } | { readonly kind: 'conflict'; readonly size: number };

/**
 * A c2sp.org/tlog-witness client. It remembers the size the witness last accepted (in memory;
 * after a restart it starts from 0 and the witness's 409 answer tells it where to resume).
 */
class HttpWitness implements Witness {
  readonly name: string;
  readonly #endpoint: URL;
  readonly #serial = new Serial();
  readonly #verifier: NoteVerifier | undefined;
  #size = 0;

  constructor(
    private readonly config: HttpWitnessConfig,
    private readonly prove: ConsistencyProver,
  ) {
    const base = new URL(config.url);
    // Only origin and path: user info or a query could hold a credential, and names are logged.
    this.name = `http:${base.origin}${base.pathname}`;
    base.pathname = `${base.pathname.replace(/\/+$/, '')}/add-checkpoint`;
    this.#endpoint = base;
    this.#verifier = config.verifierKey === undefined ? undefined : cosignatureVerifier(config.verifierKey);
  }

  /** The size the witness last accepted, as far as this client knows. */
  get acceptedSize(): number {
    return this.#size;
  }

  publish(note: string, size: number): Promise<void> {
    return this.#serial.run(() => this.#publish(note, size));
  }

  async #publish(note: string, size: number): Promise<void> {
    const body = checkpointBody(note, size);
    if (size <= this.#size) return; // the witness holds this tree or a larger one already
    let old = this.#size;
    let answer = await this.#add(old, note, size);
    if (answer.kind === 'conflict' && answer.size !== old) {
      // Another publisher (a replica, or this process before a restart) moved the witness on.
      this.#size = answer.size;
      if (answer.size > size) return;
      old = answer.size;
      answer = await this.#add(old, note, size);
    }
    if (answer.kind === 'conflict') {
      this.#size = answer.size;
      throw new WitnessError(
        'witness_conflict',
        `${this.name} holds size ${answer.size} and refused size ${size} from ${old}`,
      );
    }
    this.#checkCosignature(body, answer.body);
    this.#size = size;
  }

  async #add(old: number, note: string, size: number): Promise<AddAnswer> {
    const proof = old === 0 || old === size ? [] : await this.prove(old, size);
    const lines = proof.map((hash) => `${Buffer.from(hash).toString('base64')}\n`).join('');
    const response = await this.#post(`old ${old}\n${lines}\n${note}`);
    const { status, contentType, text } = response;
    if (status === 200) return { kind: 'cosigned', body: text };
    if (status === 409) return { kind: 'conflict', size: this.#conflictSize(contentType, text) };
    const code = STATUS_CODES.get(status) ?? 'witness_http_status';
    throw new WitnessError(code, `${this.name} answered HTTP ${status} to size ${size} from ${old}`);
  }

  #conflictSize(contentType: string, text: string): number {
    const size = text.endsWith('\n') ? text.slice(0, -1) : '';
    if (
      contentType.split(';')[0]?.trim().toLowerCase() !== SIZE_CONTENT_TYPE ||
      !CANONICAL_DECIMAL.test(size)
    ) {
      throw new WitnessError('witness_response_malformed', `${this.name}: a 409 without a tree size`);
    }
    const value = Number(size);
    if (!Number.isSafeInteger(value)) {
      throw new WitnessError('witness_response_malformed', `${this.name}: a tree size out of range`);
    }
    return value;
  }

  async #post(body: string): Promise<{ status: number; contentType: string; text: string }> {
    const signal = AbortSignal.timeout(this.config.timeoutMs);
    try {
      const response = await request(this.#endpoint, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body,
        signal,
        headersTimeout: this.config.timeoutMs,
        bodyTimeout: this.config.timeoutMs,
      });
      const header = response.headers['content-type'];
      const contentType = (Array.isArray(header) ? header[0] : header) ?? '';
      const chunks: Buffer[] = [];
      let length = 0;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        length += chunk.length;
        if (length > MAX_RESPONSE_BYTES) {
          response.body.destroy();
          throw new WitnessError('witness_response_malformed', `${this.name}: the response is too large`);
        }
        chunks.push(chunk);
      }
      return { status: response.statusCode, contentType, text: Buffer.concat(chunks).toString('utf8') };
    } catch (cause) {
      if (isWitnessError(cause)) throw cause;
      const what = signal.aborted ? `no answer within ${this.config.timeoutMs} ms` : 'unreachable';
      throw new WitnessError('witness_unreachable', `${this.name}: ${what}`, { cause });
    }
  }

  /** Checks the 200 body: signature lines, one of them a valid cosignature when a key is configured. */
  #checkCosignature(checkpointText: string, lines: string): void {
    if (
      lines === '' ||
      !lines.endsWith('\n') ||
      !lines
        .split('\n')
        .slice(0, -1)
        .every((l) => l.startsWith('\u2014 '))
    ) {
      throw new WitnessError('witness_response_malformed', `${this.name}: the answer is not signature lines`);
    }
    // The spec's way: append the lines to the checkpoint body and open it as a note.
    const note = `${checkpointText}\n${lines}`;
    try {
      if (this.#verifier) openNote(note, [this.#verifier]);
      else parseNote(note);
    } catch (cause) {
      const code = this.#verifier ? 'witness_cosignature_invalid' : 'witness_response_malformed';
      throw new WitnessError(code, `${this.name}: no valid cosignature in the answer`, { cause });
    }
  }
}

const STATUS_CODES = new Map<number, WitnessErrorCode>([
  [400, 'witness_bad_request'],
  [403, 'witness_forbidden'],
  [404, 'witness_unknown_log'],
  [422, 'witness_bad_proof'],
]);

/** The vkey signature type of c2sp.org/tlog-cosignature's Ed25519 cosignature/v1. */
export const SIGNATURE_TYPE_COSIGNATURE_V1 = 0x04;
const VKEY = /^([^+]*)\+([0-9a-fA-F]{8})\+([A-Za-z0-9+/]*={0,2})$/;
const ED25519_SPKI_HEADER = Buffer.from('302a300506032b6570032100', 'hex');
const MAX_TIMESTAMP = 2n ** 63n - 1n;

/**
 * A note verifier for a witness vkey. Type 0x04 keys verify c2sp.org/tlog-cosignature Ed25519
 * cosignature/v1 signatures: the signature bytes are an 8-byte big-endian timestamp and an
 * Ed25519 signature over `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint body.
 * Type 0x01 (plain Ed25519) and 0x02 (ECDSA) keys verify plain note signatures.
 */
export function cosignatureVerifier(verifierKey: string): NoteVerifier {
  const [, name = '', hash = '', key64 = ''] = VKEY.exec(verifierKey) ?? [];
  const blob = Buffer.from(key64, 'base64');
  if (!isValidKeyName(name) || blob.toString('base64') !== key64 || blob.length < 2) {
    throw new WitnessError('witness_key_invalid', 'verifierKey is not <name>+<8 hex digits>+<base64 key>');
  }
  if (blob[0] !== SIGNATURE_TYPE_COSIGNATURE_V1) {
    try {
      return verifierFromKey(verifierKey);
    } catch (cause) {
      throw new WitnessError('witness_key_invalid', 'verifierKey is not a usable key', { cause });
    }
  }
  const raw = blob.subarray(1);
  const keyHash = createHash('sha256').update(`${name}\n`).update(blob).digest().readUInt32BE(0);
  if (raw.length !== 32 || keyHash !== Number.parseInt(hash, 16)) {
    throw new WitnessError('witness_key_invalid', 'verifierKey: bad Ed25519 key or key hash');
  }
  const key: KeyObject = createPublicKey({
    key: Buffer.concat([ED25519_SPKI_HEADER, raw]),
    format: 'der',
    type: 'spki',
  });
  return {
    name,
    keyHash,
    verify(message, signature) {
      if (signature.length !== 8 + 64) return false;
      const bytes = Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength);
      const timestamp = bytes.readBigUInt64BE(0);
      if (timestamp > MAX_TIMESTAMP) return false;
      const signed = Buffer.concat([Buffer.from(`cosignature/v1\ntime ${timestamp}\n`, 'utf8'), message]);
      return verify(null, signed, key, bytes.subarray(8));
    },
  };
}
