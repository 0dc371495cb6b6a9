/**
 * Hashing a model into a manifest, as model_signing (sigstore/model-transparency) serializes it:
 * every regular file under the model path, named by its POSIX path relative to the model
 * (`.` when the model is a single file), SHA-256 of its bytes (method `files`), or of each
 * `shard_size` slice named `path:start:end` (method `shards`). Items are in model_signing's
 * canonical order (path components compared by code point, then start, end). Files are streamed
 * in 1 MiB chunks, a few at a time; no file is ever read whole into memory.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, opendir, realpath, stat } from 'node:fs/promises';
import { basename, join, posix, resolve } from 'node:path';
import { ModelSigningError } from './errors.js';

export type SerializationMethod = 'files' | 'shards';

/** The only digest model_signing verifiers accept by default (and the only one ztgate computes). */
export type HashType = 'sha256';

/** What the statement's `predicate.serialization` records, so that a verifier can hash alike. */
export interface Serialization {
  readonly method: SerializationMethod;
  readonly hashType: HashType;
  readonly allowSymlinks: boolean;
  /** Model-relative POSIX paths left out (a directory leaves out all below it), sorted. */
  readonly ignorePaths: readonly string[];
  /** Bytes per shard (method `shards` only). */
  readonly shardSize?: number;
}

export interface ManifestItem {
  /** The resource name: `path` (files) or `path:start:end` (shards). */
  readonly name: string;
  /** Model-relative POSIX path of the file. */
  readonly path: string;
  readonly start?: number;
  readonly end?: number;
  readonly algorithm: HashType;
  /** Lower-case hex. */
  readonly digest: string;
}

export interface Manifest {
  /** The last component of the model path: informative only, never compared. */
  readonly modelName: string;
  readonly serialization: Serialization;
  /** In canonical order. */
  readonly items: readonly ManifestItem[];
}

/** Ignored by default when signing and verifying, as model_signing does (`--ignore-git-paths`). */
export const GIT_PATHS: readonly string[] = ['.git', '.gitattributes', '.github', '.gitignore'];

/** model_signing's default shard size (1 GB). */
export const DEFAULT_SHARD_SIZE = 1_000_000_000;

const CHUNK = 1 << 20;
const CONCURRENCY = 4;

export interface HashOptions {
  readonly method?: SerializationMethod;
  readonly allowSymlinks?: boolean;
  /** Model-relative paths to leave out. Paths that leave the model are dropped (they match nothing). */
  readonly ignorePaths?: readonly string[];
  /** Leave out `.git`, `.gitattributes`, `.github`, `.gitignore` (default true). */
  readonly ignoreGitPaths?: boolean;
  readonly shardSize?: number;
}

/**
 * A model-relative path in model_signing's canonical POSIX form (`a//b/./c/` → `a/b/c`), or
 * undefined when it is absolute or climbs out of the model.
 */
export function normalizeRelativePath(path: string): string | undefined {
  if (path === '' || path.startsWith('/')) return undefined;
  const normalized = posix.normalize(path).replace(/\/+$/, '');
  if (normalized === '' || normalized === '..' || normalized.startsWith('../')) return undefined;
  if (normalized.split('/').includes('..')) return undefined;
  return normalized;
}

/** The ignore list as recorded: normalized, without duplicates or escaping paths, sorted. */
export function normalizeIgnorePaths(paths: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    const n = normalizeRelativePath(p.replace(/\\/g, '/'));
    if (n !== undefined) out.add(n);
  }
  return [...out].sort(comparePaths);
}

export function isIgnored(relative: string, ignorePaths: readonly string[]): boolean {
  return ignorePaths.some((p) => p === '.' || relative === p || relative.startsWith(p + '/'));
}

/** model_signing's order: path components compared by code point (UTF-8 byte order). */
export function comparePaths(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = Buffer.compare(Buffer.from(pa[i] ?? '', 'utf8'), Buffer.from(pb[i] ?? '', 'utf8'));
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
}

export function compareItems(a: ManifestItem, b: ManifestItem): number {
  return comparePaths(a.path, b.path) || (a.start ?? 0) - (b.start ?? 0) || (a.end ?? 0) - (b.end ?? 0);
}

interface FoundFile {
  readonly relative: string;
  readonly absolute: string;
}

function refuse(relative: string, why: string): never {
  throw new ModelSigningError('path_refused', `cannot hash ${relative}: ${why}`, [relative]);
}

/** Lists the regular files of a model (a directory or a single file), ignored paths left out. */
export async function listModelFiles(
  modelPath: string,
  allowSymlinks: boolean,
  ignorePaths: readonly string[],
): Promise<FoundFile[]> {
  const root = resolve(modelPath);
  let rootStat;
  try {
    rootStat = await lstat(root);
  } catch (err) {
    throw new ModelSigningError('path_refused', `the model ${modelPath} cannot be read: ${errText(err)}`);
  }
  if (rootStat.isSymbolicLink()) {
    if (!allowSymlinks) refuse('.', `the model path ${modelPath} is a symlink (symlinks are not allowed)`);
    rootStat = await stat(root);
  }
  if (rootStat.isFile()) return isIgnored('.', ignorePaths) ? [] : [{ relative: '.', absolute: root }];
  if (!rootStat.isDirectory()) refuse('.', 'the model is neither a file nor a directory');

  const found: FoundFile[] = [];
  const seenDirs = new Set<string>([await realpath(root)]);
  const walk = async (dir: string, prefix: string): Promise<void> => {
    let handle;
    try {
      handle = await opendir(dir);
    } catch (err) {
      refuse(prefix || '.', errText(err));
    }
    for await (const entry of handle) {
      const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (isIgnored(relative, ignorePaths)) continue;
      const absolute = join(dir, entry.name);
      let isFile = entry.isFile();
      let isDir = entry.isDirectory();
      if (entry.isSymbolicLink()) {
        if (!allowSymlinks) refuse(relative, 'it is a symlink (symlinks are not allowed)');
        try {
          const target = await stat(absolute);
          isFile = target.isFile();
          isDir = target.isDirectory();
        } catch (err) {
          refuse(relative, `broken symlink (${errText(err)})`);
        }
        if (isDir) {
          const real = await realpath(absolute);
          if (seenDirs.has(real)) continue; // a cycle, or a directory already walked
          seenDirs.add(real);
        }
      }
      if (isFile) found.push({ relative, absolute });
      else if (isDir) await walk(absolute, relative);
      else refuse(relative, 'it is neither a regular file nor a directory');
    }
  };
  await walk(root, '');
  return found;
}

function errText(err: unknown): string {
  return (err as { code?: string }).code ?? (err instanceof Error ? err.message : String(err));
}

/** SHA-256 of bytes [start, end) of a file (the whole file without a range), streamed. */
export async function hashFile(path: string, range?: { start: number; end: number }): Promise<string> {
  const hash = createHash('sha256');
  if (range && range.end <= range.start) return hash.digest('hex');
  const stream = createReadStream(path, {
    highWaterMark: CHUNK,
    ...(range ? { start: range.start, end: range.end - 1 } : {}),
  });
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function runLimited<T>(jobs: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const index = next++;
      results[index] = await (jobs[index] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

/** The serialization a hashing run records (and a verifier reads back). */
export function serializationFor(options: HashOptions): Serialization {
  const method = options.method ?? 'files';
  const ignorePaths = normalizeIgnorePaths([
    ...(options.ignorePaths ?? []),
    ...(options.ignoreGitPaths === false ? [] : GIT_PATHS),
  ]);
  if (method === 'shards') {
    const shardSize = options.shardSize ?? DEFAULT_SHARD_SIZE;
    if (!Number.isSafeInteger(shardSize) || shardSize <= 0) {
      throw new RangeError('shard size must be a positive integer');
    }
    return {
      method,
      hashType: 'sha256',
      allowSymlinks: options.allowSymlinks ?? false,
      ignorePaths,
      shardSize,
    };
  }
  return { method, hashType: 'sha256', allowSymlinks: options.allowSymlinks ?? false, ignorePaths };
}

/** Hashes a model (a directory or a single file) into its manifest. */
export async function hashModel(modelPath: string, options: HashOptions = {}): Promise<Manifest> {
  const serialization = serializationFor(options);
  return hashWithSerialization(modelPath, serialization);
}

/** Hashes a model exactly as `serialization` says (what a verifier does with the signed one). */
export async function hashWithSerialization(
  modelPath: string,
  serialization: Serialization,
): Promise<Manifest> {
  const files = await listModelFiles(modelPath, serialization.allowSymlinks, serialization.ignorePaths);
  if (files.length === 0) {
    throw new ModelSigningError(
      'model_empty',
      `the model ${modelPath} has no regular file once ignored paths are left out`,
    );
  }
  const jobs: (() => Promise<ManifestItem>)[] = [];
  for (const file of files) {
    if (serialization.method === 'files') {
      jobs.push(async () => ({
        name: file.relative,
        path: file.relative,
        algorithm: 'sha256',
        digest: await hashFile(file.absolute).catch((err: unknown) => refuse(file.relative, errText(err))),
      }));
      continue;
    }
    const shardSize = serialization.shardSize ?? DEFAULT_SHARD_SIZE;
    const { size } = await stat(file.absolute);
    for (let start = 0; start < size; start += shardSize) {
      const end = Math.min(start + shardSize, size);
      jobs.push(async () => ({
        name: `${file.relative}:${start}:${end}`,
        path: file.relative,
        start,
        end,
        algorithm: 'sha256',
        digest: await hashFile(file.absolute, { start, end }).catch((err: unknown) =>
          refuse(file.relative, errText(err)),
        ),
      }));
    }
  }
  const items = await runLimited(jobs, CONCURRENCY);
  items.sort(compareItems);
  return { modelName: basename(resolve(modelPath)), serialization, items };
}
