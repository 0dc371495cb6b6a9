/**
 * The in-toto Statement v1 model_signing signs (predicate type
 * `https://model_signing/signature/v1.0`):
 *
 * - `subject`: one descriptor, the model's name and `sha256` over the concatenated raw digests of
 *   all resources in the order listed (the "root digest");
 * - `predicate.serialization`: how the model was hashed (`method`, `hash_type`, `allow_symlinks`,
 *   `ignore_paths` since model_signing 1.1, `shard_size` for shards);
 * - `predicate.resources`: `{name, algorithm, digest}` per file (or shard), in canonical order.
 *
 * Parsing follows model_signing's verifier: one subject, the root digest must match the
 * resources, unknown predicate fields are ignored. The v0.2 compat predicate
 * (`https://model_signing/Digests/v0.1`) is not accepted.
 */
import { createHash } from 'node:crypto';
import { ModelSigningError } from './errors.js';
import {
  normalizeIgnorePaths,
  normalizeRelativePath,
  type Manifest,
  type ManifestItem,
  type Serialization,
} from './manifest.js';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const MODEL_SIGNING_PREDICATE_TYPE = 'https://model_signing/signature/v1.0';

export interface InTotoStatement {
  readonly _type: string;
  readonly subject: readonly { readonly name: string; readonly digest: Readonly<Record<string, string>> }[];
  readonly predicateType: string;
  readonly predicate: {
    readonly serialization: Readonly<Record<string, unknown>>;
    readonly resources: readonly {
      readonly name: string;
      readonly algorithm: string;
      readonly digest: string;
    }[];
  };
}

/** SHA-256 over the raw bytes of every digest, in the order given. */
export function rootDigest(items: readonly Pick<ManifestItem, 'digest'>[]): string {
  const hash = createHash('sha256');
  for (const item of items) hash.update(Buffer.from(item.digest, 'hex'));
  return hash.digest('hex');
}

function serializationJson(s: Serialization): Record<string, unknown> {
  return {
    method: s.method,
    hash_type: s.hashType,
    ...(s.method === 'shards' ? { shard_size: s.shardSize } : {}),
    allow_symlinks: s.allowSymlinks,
    ignore_paths: [...s.ignorePaths],
  };
}

/** The statement model_signing would write for this manifest. */
export function buildStatement(manifest: Manifest): InTotoStatement {
  return {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [{ name: manifest.modelName, digest: { sha256: rootDigest(manifest.items) } }],
    predicateType: MODEL_SIGNING_PREDICATE_TYPE,
    predicate: {
      serialization: serializationJson(manifest.serialization),
      resources: manifest.items.map((item) => ({
        name: item.name,
        algorithm: item.algorithm,
        digest: item.digest,
      })),
    },
  };
}

/** The DSSE payload bytes: the statement as indented JSON (as model_signing writes it). */
export function encodeStatement(statement: InTotoStatement): Buffer {
  return Buffer.from(JSON.stringify(statement, null, 2), 'utf8');
}

function malformed(message: string): never {
  throw new ModelSigningError('payload_malformed', `the signed statement is malformed: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const HEX_256 = /^[0-9a-fA-F]{64}$/;

function parseSerialization(value: unknown): Serialization {
  if (!isRecord(value)) malformed('predicate.serialization is not an object');
  const method = value.method;
  if (method !== 'files' && method !== 'shards')
    malformed(`unknown serialization method ${JSON.stringify(method)}`);
  if (value.hash_type !== 'sha256') {
    malformed(`hash_type ${JSON.stringify(value.hash_type)} is not supported (only sha256)`);
  }
  if (typeof value.allow_symlinks !== 'boolean') malformed('serialization.allow_symlinks is not a boolean');
  let ignorePaths: string[] = [];
  if (value.ignore_paths !== undefined) {
    if (!Array.isArray(value.ignore_paths) || !value.ignore_paths.every((p) => typeof p === 'string')) {
      malformed('serialization.ignore_paths is not a list of strings');
    }
    ignorePaths = normalizeIgnorePaths(value.ignore_paths as string[]);
  }
  if (method === 'shards') {
    const shardSize = value.shard_size;
    if (typeof shardSize !== 'number' || !Number.isSafeInteger(shardSize) || shardSize <= 0) {
      malformed('serialization.shard_size is not a positive integer');
    }
    return { method, hashType: 'sha256', allowSymlinks: value.allow_symlinks, ignorePaths, shardSize };
  }
  return { method, hashType: 'sha256', allowSymlinks: value.allow_symlinks, ignorePaths };
}

function parseResourceName(
  name: string,
  method: Serialization['method'],
): Pick<ManifestItem, 'name' | 'path' | 'start' | 'end'> {
  if (method === 'files') {
    const path = name === '.' ? '.' : normalizeRelativePath(name);
    if (path === undefined) malformed(`resource name ${JSON.stringify(name)} is not a model-relative path`);
    return { name: path, path };
  }
  const parts = name.split(':');
  if (parts.length !== 3) malformed(`shard name ${JSON.stringify(name)} is not path:start:end`);
  const [rawPath, rawStart, rawEnd] = parts as [string, string, string];
  const path = rawPath === '.' ? '.' : normalizeRelativePath(rawPath);
  if (path === undefined || !/^\d+$/.test(rawStart) || !/^\d+$/.test(rawEnd)) {
    malformed(`shard name ${JSON.stringify(name)} is not path:start:end`);
  }
  const start = Number(rawStart);
  const end = Number(rawEnd);
  if (!Number.isSafeInteger(end) || end <= start) malformed(`shard ${JSON.stringify(name)} has no bytes`);
  return { name: `${path}:${start}:${end}`, path, start, end };
}

/** The manifest a verified payload describes (items in the payload's order). */
export interface SignedManifest extends Manifest {
  /** The subject's digest (checked against the resources). */
  readonly rootDigest: string;
}

/** Parses and checks the DSSE payload (after its signature verified). */
export function parseStatement(payload: Buffer): SignedManifest {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    malformed('the payload is not JSON');
  }
  if (!isRecord(json)) malformed('the payload is not a JSON object');
  if (json._type !== IN_TOTO_STATEMENT_TYPE) malformed(`_type is ${JSON.stringify(json._type)}`);
  if (json.predicateType !== MODEL_SIGNING_PREDICATE_TYPE) {
    malformed(`predicateType ${JSON.stringify(json.predicateType)} is not ${MODEL_SIGNING_PREDICATE_TYPE}`);
  }
  const subjects = json.subject;
  if (!Array.isArray(subjects) || subjects.length !== 1) malformed('expected exactly one subject');
  const subject: unknown = subjects[0];
  if (!isRecord(subject) || typeof subject.name !== 'string' || !isRecord(subject.digest)) {
    malformed('the subject has no name or digest');
  }
  const expectedRoot = subject.digest.sha256;
  if (typeof expectedRoot !== 'string' || !HEX_256.test(expectedRoot))
    malformed('the subject has no sha256 digest');
  const predicate = json.predicate;
  if (!isRecord(predicate)) malformed('predicate is not an object');
  const serialization = parseSerialization(predicate.serialization);
  if (!Array.isArray(predicate.resources)) malformed('predicate.resources is not a list');
  const items: ManifestItem[] = [];
  const names = new Set<string>();
  for (const resource of predicate.resources as unknown[]) {
    if (
      !isRecord(resource) ||
      typeof resource.name !== 'string' ||
      typeof resource.algorithm !== 'string' ||
      typeof resource.digest !== 'string'
    ) {
      malformed('a resource lacks name, algorithm or digest');
    }
    if (resource.algorithm !== serialization.hashType) {
      malformed(`resource ${resource.name} uses ${resource.algorithm}, not ${serialization.hashType}`);
    }
    if (!HEX_256.test(resource.digest)) malformed(`resource ${resource.name} has a malformed digest`);
    const parsed = parseResourceName(resource.name, serialization.method);
    if (names.has(parsed.name)) malformed(`resource ${parsed.name} is listed twice`);
    names.add(parsed.name);
    items.push({ ...parsed, algorithm: 'sha256', digest: resource.digest.toLowerCase() });
  }
  const actualRoot = rootDigest(items);
  if (actualRoot !== expectedRoot.toLowerCase()) {
    malformed(`the subject digest ${expectedRoot} does not match the resources (${actualRoot})`);
  }
  return { modelName: subject.name, serialization, items, rootDigest: actualRoot };
}
