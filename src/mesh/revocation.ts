import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MeshError } from './errors.js';
import { writeFileAtomic } from './files.js';
import { normalizeSerial } from './x509.js';

/**
 * Which certificates are revoked, by serial number. The mesh asks it on every handshake and again
 * on every request of a kept-alive connection. The gateway will later back it with the StateBus;
 * today there is an in-memory list, filled from `<home>/ca/revoked.json`.
 */
export interface RevocationList {
  /** `serialHex` in any case, colons allowed (it is normalised). */
  isRevoked(serialHex: string): boolean;
}

export class InMemoryRevocationList implements RevocationList {
  private serials = new Set<string>();

  constructor(serials: Iterable<string> = []) {
    this.replace(serials);
  }

  isRevoked(serialHex: string): boolean {
    try {
      return this.serials.has(normalizeSerial(serialHex));
    } catch {
      // Not a serial number at all: nothing to match, and the caller's own checks refuse it.
      return false;
    }
  }

  revoke(serialHex: string): void {
    this.serials.add(normalizeSerial(serialHex));
  }

  /** Swaps the whole list at once (a reload). */
  replace(serials: Iterable<string>): void {
    const next = new Set<string>();
    for (const serial of serials) next.add(normalizeSerial(serial));
    this.serials = next;
  }

  get size(): number {
    return this.serials.size;
  }
}

/** One revocation as `<home>/ca/revoked.json` records it. */
export interface RevokedEntry {
  readonly serial: string;
  readonly revokedAt: string;
  readonly reason?: string;
}

interface RevokedFile {
  readonly version: 1;
  readonly revoked: readonly RevokedEntry[];
}

function parseRevokedFile(text: string, path: string): RevokedEntry[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MeshError('revocation_list_invalid', `${path} is not valid JSON`);
  }
  const file = value as Partial<RevokedFile> | null;
  if (!file || file.version !== 1 || !Array.isArray(file.revoked)) {
    throw new MeshError('revocation_list_invalid', `${path}: expected {"version": 1, "revoked": [...]}`);
  }
  return file.revoked.map((entry, i) => {
    if (typeof entry?.serial !== 'string' || typeof entry.revokedAt !== 'string') {
      throw new MeshError('revocation_list_invalid', `${path}: revoked[${i}] needs serial and revokedAt`);
    }
    try {
      return { ...entry, serial: normalizeSerial(entry.serial) };
    } catch {
      throw new MeshError('revocation_list_invalid', `${path}: revoked[${i}].serial is not hex`);
    }
  });
}

/** Reads the revocation file; a missing file is an empty list, a malformed one an error. */
export async function readRevocations(path: string): Promise<RevokedEntry[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new MeshError(
      'revocation_list_invalid',
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`,
    );
  }
  return parseRevokedFile(text, path);
}

/**
 * Adds a serial to the revocation file (atomically). Returns false when it was already there.
 * Run one `ztgate ca revoke` at a time: two at once may lose one of the two.
 */
export async function recordRevocation(path: string, serialHex: string, reason?: string): Promise<boolean> {
  let serial: string;
  try {
    serial = normalizeSerial(serialHex);
  } catch {
    throw new MeshError('revocation_list_invalid', 'a serial number is hex digits (colons allowed)');
  }
  const entries = await readRevocations(path);
  if (entries.some((e) => e.serial === serial)) return false;
  const next: RevokedFile = {
    version: 1,
    revoked: [...entries, { serial, revokedAt: new Date().toISOString(), ...(reason ? { reason } : {}) }],
  };
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, JSON.stringify(next, null, 2) + '\n', 0o644);
  return true;
}

/**
 * Reloads `list` from the revocation file whenever the file changes (checked every `intervalMs`,
 * on an unref'd timer). A file that turns unreadable, malformed or disappears keeps the last good
 * list and is reported (once) through `onError`. Returns a function that stops watching.
 */
export function watchRevocations(
  path: string,
  list: InMemoryRevocationList,
  options: { intervalMs?: number; onError?: (err: unknown) => void; onReload?: (count: number) => void } = {},
): () => void {
  let seen = '';
  let failed = '';
  let running = false;
  const check = async (): Promise<void> => {
    if (running) return;
    running = true;
    let mark = '';
    try {
      const info = await stat(path).catch(() => undefined);
      mark = info ? `${info.mtimeMs}:${info.size}:${info.ino}` : 'absent';
      if (mark === seen) return;
      if (mark === 'absent' && seen !== '' && list.size > 0) {
        // A list that vanishes is not an empty list: keep what was revoked (fail closed).
        throw new MeshError('revocation_list_invalid', `${path} disappeared; keeping the last list`);
      }
      const entries = await readRevocations(path);
      list.replace(entries.map((e) => e.serial));
      seen = mark;
      failed = '';
      options.onReload?.(entries.length);
    } catch (err) {
      // Reported once per version of the file, not on every tick.
      if (mark !== failed) options.onError?.(err);
      failed = mark;
    } finally {
      running = false;
    }
  };
  void check();
  const timer = setInterval(() => void check(), options.intervalMs ?? 1000);
  timer.unref();
  return () => clearInterval(timer);
}
