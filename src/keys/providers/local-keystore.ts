import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { KeyError } from '../errors.js';
import { KEY_ALGORITHMS, type KeyAlgorithm, type KeyVersionState } from '../types.js';
import { assertPrivateFile } from './local-master-key.js';

const FORMAT = 'ztgate-local-keystore/1';
const LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = 10_000;

/** One key version as stored: `material` is absent once the version is destroyed. */
export interface StoredVersion {
  version: number;
  state: KeyVersionState;
  createdAt: string;
  destroyedAt?: string;
  /** base64: raw 32 bytes (AES) or PKCS#8 DER (signing keys). */
  material?: string;
}

export interface StoredKey {
  algorithm: KeyAlgorithm;
  versions: StoredVersion[];
}

export interface KeystoreContents {
  keys: Record<string, StoredKey>;
}

interface SealedFile {
  format: string;
  salt: string;
  nonce: string;
  ciphertext: string;
}

/** Identifies one version of the file on disk, to notice changes made by another process. */
export type FileStamp = string;

function stampOf(info: { mtimeMs: number; size: number; ino: number }): FileStamp {
  return `${info.ino}:${info.size}:${info.mtimeMs}`;
}

function sealingKey(master: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', master, salt, 'ztgate local keystore v1', 32));
}

function isContents(value: unknown): value is KeystoreContents {
  if (typeof value !== 'object' || value === null) return false;
  const keys = (value as { keys?: unknown }).keys;
  if (typeof keys !== 'object' || keys === null) return false;
  return Object.values(keys).every(
    (k: unknown) =>
      typeof k === 'object' &&
      k !== null &&
      KEY_ALGORITHMS.includes((k as StoredKey).algorithm) &&
      Array.isArray((k as StoredKey).versions),
  );
}

/**
 * The local provider's key store: one file, sealed as a whole with AES-256-GCM under a key derived
 * (HKDF-SHA256, fresh salt per write) from the master key, so that its contents are secret and
 * any change made without the master key is detected. Writes are atomic (temp file, fsync,
 * rename) and serialised between processes by a lock file.
 */
export class LocalKeystore {
  constructor(
    readonly path: string,
    private readonly master: Buffer,
  ) {}

  /** The current stamp of the file, or undefined when it does not exist. Cheap (one stat). */
  stamp(): FileStamp | undefined {
    try {
      return stampOf(statSync(this.path));
    } catch {
      return undefined;
    }
  }

  /** Reads and opens the file; an absent file is an empty store. */
  async read(): Promise<{ contents: KeystoreContents; stamp: FileStamp | undefined }> {
    // Stamp first: a change landing between the stamp and the read is caught by the next check.
    const stamp = this.stamp();
    let text: string;
    try {
      await assertPrivateFile(this.path);
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return { contents: { keys: {} }, stamp: undefined };
      throw err;
    }
    let sealed: SealedFile;
    try {
      sealed = JSON.parse(text) as SealedFile;
    } catch {
      throw new KeyError('keystore_corrupt', `${this.path} is not a ztgate key store`);
    }
    if (sealed.format !== FORMAT) {
      throw new KeyError('keystore_corrupt', `${this.path} has an unknown format (expected ${FORMAT})`);
    }
    let plaintext: Buffer;
    try {
      const salt = Buffer.from(sealed.salt, 'base64');
      const nonce = Buffer.from(sealed.nonce, 'base64');
      const body = Buffer.from(sealed.ciphertext, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', sealingKey(this.master, salt), nonce);
      decipher.setAAD(Buffer.from(FORMAT));
      decipher.setAuthTag(body.subarray(body.length - 16));
      plaintext = Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
    } catch {
      throw new KeyError(
        'master_key_invalid',
        `the master key does not open ${this.path} (wrong ZTGATE_MASTER_KEY or master key file, or the key store was altered)`,
      );
    }
    const contents: unknown = JSON.parse(plaintext.toString('utf8'));
    plaintext.fill(0);
    if (!isContents(contents))
      throw new KeyError('keystore_corrupt', `${this.path} holds an unknown structure`);
    return { contents, stamp };
  }

  private async write(contents: KeystoreContents): Promise<void> {
    const salt = randomBytes(16);
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', sealingKey(this.master, salt), nonce);
    cipher.setAAD(Buffer.from(FORMAT));
    const plaintext = Buffer.from(JSON.stringify(contents));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    plaintext.fill(0);
    const sealed: SealedFile = {
      format: FORMAT,
      salt: salt.toString('base64'),
      nonce: nonce.toString('base64'),
      ciphertext: body.toString('base64'),
    };
    const temp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify(sealed) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.path);
    // fsync the directory so that the rename itself survives a crash.
    const dir = await open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Read-modify-write under the inter-process lock. `change` may throw to abort. */
  async update<T>(
    change: (contents: KeystoreContents) => T,
  ): Promise<{ result: T; contents: KeystoreContents }> {
    const release = await this.lock();
    try {
      const { contents } = await this.read();
      const result = change(contents);
      await this.write(contents);
      return { result, contents };
    } finally {
      await release();
    }
  }

  private async lock(): Promise<() => Promise<void>> {
    const lockPath = `${this.path}.lock`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        const handle = await open(lockPath, 'wx', 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        return () => unlink(lockPath).catch(() => undefined);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const info = await stat(lockPath).catch(() => undefined);
        // A holder that died leaves its lock behind; one older than any real write is stale.
        if (info && Date.now() - info.mtimeMs > LOCK_STALE_MS) await unlink(lockPath).catch(() => undefined);
        if (Date.now() > deadline)
          throw new KeyError('keystore_corrupt', `${lockPath} is held by another process`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }
}
