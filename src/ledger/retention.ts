import { createHash } from 'node:crypto';
import type { RetentionRef } from '../core/index.js';
import {
  isKeyError,
  parseEnvelope,
  type EnvelopeContext,
  type KeyInfo,
  type KeyManager,
} from '../keys/index.js';
import type { EncryptedObjectRepository } from '../store/index.js';

/** What a `retain` obligation keeps of a request. */
export interface RetainedContent {
  readonly prompt: string;
  readonly answer: string | null;
}

export interface RetentionVaultOptions {
  readonly keys: KeyManager;
  readonly objects: EncryptedObjectRepository;
  /** Content expiring in the same period (UTC day or month) shares one key-encryption key. */
  readonly period: 'day' | 'month';
  /** Also encrypt under a key per subject, so that `eraseSubject` can shred one subject's content. */
  readonly perSubject: boolean;
  /** Recorded as the actor of key operations. */
  readonly actor: string;
  readonly now?: () => number;
}

export type RetentionErrorCode =
  /** eraseSubject without `ledger.retention.perSubject`. */
  | 'per_subject_disabled'
  /** No content was ever kept under a key of this subject. */
  | 'subject_unknown'
  | 'invalid_argument'
  /** A reference that does not match what is stored, or content that does not parse. */
  | 'content_malformed';

export class RetentionError extends Error {
  constructor(
    readonly code: RetentionErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RetentionError';
  }
}

/** Where retained content is stored (EncryptedObjectRepository namespace). */
export const CONTENT_NAMESPACE = 'ztgate/ledger-content';
export const PERIOD_KEY_PREFIX = 'ledger-content-';
export const SUBJECT_KEY_PREFIX = 'ledger-subject-';

const HOUR_MS = 3_600_000;
const MAX_HOURS = 24 * 366 * 100;
const PERIOD_KEY = /^ledger-content-(\d{4})-(\d{2})(?:-(\d{2}))?$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const PURGE_BATCH = 500;
/** Bounds the memo of keys known to exist (subject keys are one per subject). */
const MAX_READY = 10_000;

const periodContext = (recordId: string): EnvelopeContext => ({
  tenant: 'ztgate',
  purpose: 'ledger-content',
  recordId,
});
const subjectContext = (recordId: string): EnvelopeContext => ({
  tenant: 'ztgate',
  purpose: 'ledger-subject',
  recordId,
});

const pad = (n: number): string => String(n).padStart(2, '0');

/** The key of the UTC period `time` falls in, and when that period ends (exclusive). */
export function periodKeyOf(time: number, period: 'day' | 'month'): { keyName: string; endsAt: number } {
  const d = new Date(time);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth();
  if (period === 'month') {
    return {
      keyName: `${PERIOD_KEY_PREFIX}${year}-${pad(month + 1)}`,
      endsAt: Date.UTC(year, month + 1, 1),
    };
  }
  const day = d.getUTCDate();
  return {
    keyName: `${PERIOD_KEY_PREFIX}${year}-${pad(month + 1)}-${pad(day)}`,
    endsAt: Date.UTC(year, month, day + 1),
  };
}

/** When the period a `ledger-content-*` key names ends; undefined for any other name. */
export function periodEndOf(keyName: string): number | undefined {
  const m = PERIOD_KEY.exec(keyName);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), m[3] === undefined ? undefined : Number(m[3])];
  const start = new Date(Date.UTC(year, month - 1, day ?? 1));
  // Rejects names like 2026-02-31 that Date would roll over.
  if (start.getUTCMonth() !== month - 1 || (day !== undefined && start.getUTCDate() !== day))
    return undefined;
  return day === undefined ? Date.UTC(year, month, 1) : Date.UTC(year, month - 1, day + 1);
}

export function subjectHash(subject: string): string {
  return createHash('sha256').update(subject, 'utf8').digest('hex');
}

/** The subject's key: named by its hash, so the key store never holds the subject id. */
export function subjectKeyName(hash: string): string {
  return `${SUBJECT_KEY_PREFIX}${hash.slice(0, 32)}`;
}

function parseContent(bytes: Buffer): RetainedContent {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RetentionError('content_malformed', 'retained content does not parse');
  }
  const { prompt, answer } = (value ?? {}) as { prompt?: unknown; answer?: unknown };
  if (typeof prompt !== 'string' || (answer !== null && typeof answer !== 'string')) {
    throw new RetentionError('content_malformed', 'retained content is not {prompt, answer}');
  }
  return { prompt, answer };
}

/**
 * Prompt and answer content a `retain:N(h|d)` obligation keeps, crypto-shredded when its time is up.
 *
 * Content is envelope-encrypted under a key-encryption key named for the UTC period its retention
 * ends in (`ledger-content-YYYY-MM-DD`, or `ledger-content-YYYY-MM` with period `month`), created on
 * demand. Once that period has ended, `sweep` destroys the key's versions: everything of the
 * period is unreadable at once, and the ledger keeps only hashes and metadata, so it still
 * verifies. Content is therefore kept at most one period longer than asked (`read` refuses it
 * from `expiresAt` on; the ciphertext lasts until the sweep after the period's end).
 *
 * With `perSubject`, the content is first encrypted under the subject's key
 * (`ledger-subject-<first 32 hex of SHA-256(subject)>`) and that envelope under the period key:
 * destroying either key shreds it. The period layer is the outer one, so the stored row names the
 * period key and a sweep can find and delete every object of an ended period.
 *
 * A provider never destroys a key's primary version, so shredding a key rotates it first (when
 * its primary may wrap content) and destroys every older version; the fresh primary wraps nothing
 * of the past. Keys are never deleted, only their versions: one key per period stays in the
 * provider with its history.
 */
export class RetentionVault {
  private readonly now: () => number;
  /** Keys known to exist (or being created), so concurrent keeps create a key once. */
  private readonly ready = new Map<string, Promise<void>>();
  /** Ended periods whose unreadable objects were deleted by this process. */
  private readonly purged = new Set<string>();

  constructor(readonly options: RetentionVaultOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Encrypts and stores the content until `hours` from now; returns the reference the ledger entry holds. */
  async keep(input: {
    readonly requestId: string;
    readonly subject: string | null;
    readonly hours: number;
    readonly content: RetainedContent;
  }): Promise<RetentionRef> {
    const { requestId, subject, hours, content } = input;
    if (!Number.isFinite(hours) || hours < 0 || hours > MAX_HOURS) {
      throw new RetentionError('invalid_argument', `retention hours must be 0 to ${MAX_HOURS}`);
    }
    if (typeof requestId !== 'string' || requestId.length === 0 || requestId.length > 256) {
      throw new RetentionError('invalid_argument', 'the request id must be 1-256 characters');
    }
    const { keys, objects } = this.options;
    const expiresAt = this.now() + hours * HOUR_MS;
    const { keyName } = periodKeyOf(expiresAt, this.options.period);
    const hash = this.options.perSubject && subject !== null ? subjectHash(subject) : undefined;
    await Promise.all([this.ensure(keyName), ...(hash ? [this.ensure(subjectKeyName(hash))] : [])]);
    let payload: Buffer = Buffer.from(
      JSON.stringify({ prompt: content.prompt, answer: content.answer }),
      'utf8',
    );
    try {
      if (hash) {
        const inner = await keys.encrypt(subjectKeyName(hash), payload, subjectContext(requestId));
        payload.fill(0);
        payload = inner;
      }
      const envelope = await keys.encrypt(keyName, payload, periodContext(requestId));
      const { keyId } = parseEnvelope(envelope);
      await objects.put({
        namespace: CONTENT_NAMESPACE,
        id: requestId,
        keyName: keyId.name,
        keyVersion: keyId.version,
        envelope,
      });
    } finally {
      payload.fill(0);
    }
    return {
      objectId: requestId,
      keyName,
      expiresAt: new Date(expiresAt).toISOString(),
      ...(hash ? { subject: hash } : {}),
    };
  }

  /** The content, or `shredded` once its period or subject key is destroyed (or it expired). */
  async read(ref: RetentionRef): Promise<RetainedContent | 'shredded'> {
    const expiresAt = Date.parse(ref.expiresAt);
    if (Number.isNaN(expiresAt) || (ref.subject !== undefined && !SHA256_HEX.test(ref.subject))) {
      throw new RetentionError('content_malformed', 'not a valid retention reference');
    }
    if (this.now() >= expiresAt) return 'shredded';
    const stored = await this.options.objects.get(CONTENT_NAMESPACE, ref.objectId);
    if (!stored) return 'shredded';
    if (stored.keyName !== ref.keyName) {
      throw new RetentionError(
        'content_malformed',
        'the stored content is not under the key the entry names',
      );
    }
    const { keys } = this.options;
    let outer: Buffer | undefined;
    try {
      outer = await keys.decrypt(stored.envelope, periodContext(ref.objectId));
      if (ref.subject === undefined) return parseContent(outer);
      const inner = await keys.decrypt(outer, subjectContext(ref.objectId));
      try {
        return parseContent(inner);
      } finally {
        inner.fill(0);
      }
    } catch (err) {
      if (isKeyError(err, 'key_destroyed')) return 'shredded';
      throw err;
    } finally {
      outer?.fill(0);
    }
  }

  /**
   * Destroys the keys of every period that has ended; returns the key names shredded. Then
   * deletes the objects those keys made unreadable (the ledger keeps their hashes). Every key is
   * tried; the first failure is thrown at the end.
   */
  async sweep(): Promise<{ readonly shredded: readonly string[] }> {
    const now = this.now();
    const shredded: string[] = [];
    const failures: string[] = [];
    let first: unknown;
    for (const info of await this.options.keys.listKeys()) {
      const endsAt = periodEndOf(info.name);
      // Only a period that has ended: its keys are never destroyed while content may still go under them.
      if (endsAt === undefined || now < endsAt) continue;
      this.ready.delete(info.name);
      try {
        const { info: latest, destroyed } = await this.shredPeriod(info, endsAt);
        if (destroyed.length > 0) shredded.push(info.name);
        await this.purge(latest);
      } catch (err) {
        first ??= err;
        failures.push(`${info.name} (${isKeyError(err) ? err.code : 'error'})`);
      }
    }
    if (failures.length > 0) {
      throw new Error(
        `retention sweep: could not shred ${failures.join(', ')}` +
          (shredded.length > 0 ? `; shredded ${shredded.join(', ')}` : ''),
        { cause: first },
      );
    }
    return { shredded };
  }

  /** Destroys every version of the subject's key (needs perSubject). */
  async eraseSubject(
    subject: string,
  ): Promise<{ readonly keyName: string; readonly versions: number; readonly destroyed: readonly string[] }> {
    if (!this.options.perSubject) {
      throw new RetentionError(
        'per_subject_disabled',
        'per-subject keys are not configured (ledger.retention.perSubject is false): content cannot be erased by subject',
      );
    }
    const keyName = subjectKeyName(subjectHash(subject));
    const { keys, actor } = this.options;
    try {
      await keys.describeKey(keyName);
    } catch (err) {
      if (!isKeyError(err, 'key_not_found')) throw err;
      throw new RetentionError('subject_unknown', 'no content was ever retained under a key of this subject');
    }
    // Rotate first: the primary cannot be destroyed, and it may wrap this subject's content.
    const destroyed = await this.destroyBelowPrimary(await keys.rotateKey(keyName, actor));
    return { keyName, versions: destroyed.length, destroyed };
  }

  /** Creates the key once (per process, and tolerating another process creating it meanwhile). */
  private ensure(keyName: string): Promise<void> {
    let pending = this.ready.get(keyName);
    if (!pending) {
      if (this.ready.size >= MAX_READY) this.ready.clear();
      const { keys, actor } = this.options;
      pending = keys.ensureKey(keyName, 'aes-256-gcm', actor).then(
        () => undefined,
        async (err: unknown) => {
          if (!isKeyError(err, 'key_exists')) throw err;
          await keys.ensureKey(keyName, 'aes-256-gcm', actor);
        },
      );
      const settled = pending;
      settled.catch(() => {
        if (this.ready.get(keyName) === settled) this.ready.delete(keyName);
      });
      this.ready.set(keyName, pending);
    }
    return pending;
  }

  /**
   * Shreds an ended period's key: rotates it when its primary may wrap content of the period
   * (it is the first version, or was created before the period ended), then destroys every older
   * version. A key already shredded is left as it is, so repeated sweeps do nothing.
   */
  private async shredPeriod(info: KeyInfo, endsAt: number): Promise<{ info: KeyInfo; destroyed: string[] }> {
    const primary = info.versions.find((v) => v.version === info.primaryVersion);
    const mayWrap = info.primaryVersion === 1 || !primary || Date.parse(primary.createdAt) < endsAt;
    const current = mayWrap ? await this.options.keys.rotateKey(info.name, this.options.actor) : info;
    return { info: current, destroyed: await this.destroyBelowPrimary(current) };
  }

  /** Destroys every version below the primary that is not destroyed yet; returns their ids. */
  private async destroyBelowPrimary(info: KeyInfo): Promise<string[]> {
    const destroyed: string[] = [];
    for (const version of info.versions) {
      if (version.version === info.primaryVersion || version.state === 'destroyed') continue;
      const ref = { name: info.name, version: version.version };
      try {
        await this.options.keys.destroyVersion(ref, this.options.actor);
        destroyed.push(`${ref.name}@${ref.version}`);
      } catch (err) {
        // Another replica's sweep got there first.
        if (!isKeyError(err, 'key_destroyed')) throw err;
      }
    }
    return destroyed;
  }

  /** Deletes the stored objects an ended period's destroyed versions wrapped (once per process). */
  private async purge(info: KeyInfo): Promise<void> {
    if (this.purged.has(info.name)) return;
    const { objects } = this.options;
    let after: { namespace: string; id: string } | undefined;
    for (;;) {
      // Below the primary is destroyed by now: shredPeriod throws before a purge otherwise.
      const batch = await objects.listWrappedBelow(info.name, info.primaryVersion, {
        ...(after ? { after } : {}),
        limit: PURGE_BATCH,
      });
      if (batch.length === 0) break;
      for (const object of batch) {
        if (object.namespace === CONTENT_NAMESPACE) await objects.delete(object.namespace, object.id);
      }
      const last = batch[batch.length - 1] as (typeof batch)[number];
      after = { namespace: last.namespace, id: last.id };
    }
    this.purged.add(info.name);
  }
}
