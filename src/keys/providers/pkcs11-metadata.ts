/**
 * Key metadata kept in the token, so that every gateway replica sharing the HSM sees the same
 * versions and states. One private CKO_DATA object per key, labelled `<prefix>:meta:<name>`, holds
 * JSON `{ format: 1, rev, algorithm, versions }`. SoftHSM refuses C_SetAttributeValue on CKA_VALUE
 * of data objects, so an update creates the object with rev+1 and then destroys the old one;
 * readers take the highest rev, so a crash between the two steps loses nothing. PKCS#11 has no
 * locks: two replicas changing the same key at the same instant can lose one of the changes.
 */
import pkcs11js from 'pkcs11js';
import type { Handle, PKCS11, Template } from 'pkcs11js';
import { KeyError } from '../errors.js';
import { KEY_ALGORITHMS, type KeyAlgorithm, type KeyVersionInfo } from '../types.js';

const APPLICATION = 'ztgate-key-metadata';
const FORMAT = 1;

export interface KeyMetadata {
  readonly algorithm: KeyAlgorithm;
  /** Ascending by version. */
  readonly versions: readonly KeyVersionInfo[];
}

export interface StoredMetadata extends KeyMetadata {
  readonly rev: number;
  /** Every metadata object of the key found in the token (normally one). */
  readonly handles: readonly Handle[];
}

const STATES = new Set(['active', 'disabled', 'destroyed']);

function parseVersion(value: unknown): KeyVersionInfo | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v.version) || (v.version as number) < 1) return undefined;
  if (typeof v.state !== 'string' || !STATES.has(v.state) || typeof v.createdAt !== 'string')
    return undefined;
  if (v.destroyedAt !== undefined && typeof v.destroyedAt !== 'string') return undefined;
  return {
    version: v.version as number,
    state: v.state as KeyVersionInfo['state'],
    createdAt: v.createdAt,
    ...(typeof v.destroyedAt === 'string' ? { destroyedAt: v.destroyedAt } : {}),
  };
}

function parse(name: string, value: Buffer): { rev: number; meta: KeyMetadata } {
  const unreadable = new KeyError('hsm_error', `the metadata of key ${name} in the token is unreadable`);
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch {
    throw unreadable;
  }
  if (typeof json !== 'object' || json === null) throw unreadable;
  const doc = json as Record<string, unknown>;
  const algorithm = KEY_ALGORITHMS.find((a) => a === doc.algorithm);
  if (doc.format !== FORMAT || !Number.isSafeInteger(doc.rev) || !algorithm || !Array.isArray(doc.versions)) {
    throw unreadable;
  }
  const versions = doc.versions.map(parseVersion);
  if (versions.length === 0 || versions.some((v) => v === undefined)) throw unreadable;
  return { rev: doc.rev as number, meta: { algorithm, versions: versions as KeyVersionInfo[] } };
}

/** All objects matching `template` in the session's view of the token. */
export function findObjects(lib: PKCS11, session: Handle, template: Template): Handle[] {
  lib.C_FindObjectsInit(session, template);
  try {
    const found: Handle[] = [];
    for (;;) {
      const batch = lib.C_FindObjects(session, 64);
      if (batch.length === 0) return found;
      found.push(...batch);
    }
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

export class TokenMetadata {
  constructor(
    private readonly lib: PKCS11,
    private readonly session: Handle,
    private readonly prefix: string,
  ) {}

  private label(name: string): string {
    return `${this.prefix}:meta:${name}`;
  }

  /** Reads the metadata of every key under our prefix, keyed by name. */
  private collect(template: Template): Map<string, StoredMetadata> {
    const byName = new Map<string, StoredMetadata>();
    const labelPrefix = `${this.prefix}:meta:`;
    const handles = findObjects(this.lib, this.session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
      { type: pkcs11js.CKA_APPLICATION, value: APPLICATION },
      ...template,
    ]);
    for (const handle of handles) {
      const [label, value] = this.lib.C_GetAttributeValue(this.session, handle, [
        { type: pkcs11js.CKA_LABEL },
        { type: pkcs11js.CKA_VALUE },
      ]);
      const text = label?.value.toString('utf8') ?? '';
      if (!text.startsWith(labelPrefix) || !value) continue;
      const name = text.slice(labelPrefix.length);
      const { rev, meta } = parse(name, value.value);
      const seen = byName.get(name);
      const all = [...(seen?.handles ?? []), handle];
      byName.set(name, !seen || rev > seen.rev ? { ...meta, rev, handles: all } : { ...seen, handles: all });
    }
    return byName;
  }

  read(name: string): StoredMetadata | undefined {
    return this.collect([{ type: pkcs11js.CKA_LABEL, value: this.label(name) }]).get(name);
  }

  list(): Map<string, StoredMetadata> {
    return this.collect([]);
  }

  /** Stores `meta` as the next revision after `previous` (none: a new key). */
  write(name: string, meta: KeyMetadata, previous: StoredMetadata | undefined): void {
    const rev = (previous?.rev ?? 0) + 1;
    const json = JSON.stringify({ format: FORMAT, rev, algorithm: meta.algorithm, versions: meta.versions });
    this.lib.C_CreateObject(this.session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_LABEL, value: this.label(name) },
      { type: pkcs11js.CKA_APPLICATION, value: APPLICATION },
      { type: pkcs11js.CKA_VALUE, value: Buffer.from(json) },
    ]);
    for (const handle of previous?.handles ?? []) {
      try {
        this.lib.C_DestroyObject(this.session, handle);
      } catch {
        // Already replaced by another replica; the highest rev wins on read.
      }
    }
  }
}
