import { KeyError, isKeyError } from './errors.js';
import { parseEnvelope, type EnvelopeContext } from './envelope-format.js';
import type { EncryptOptions, KeyManager } from './key-manager.js';

/** One stored envelope (the Store's EncryptedObject, described structurally: keys/ imports no store). */
export interface StoredEnvelope {
  readonly namespace: string;
  readonly id: string;
  readonly keyName: string;
  readonly keyVersion: number;
  readonly envelope: Buffer;
}

/** What the Store's encrypted-object repository offers; `store.objects` satisfies it. */
export interface EnvelopeRepository {
  put(object: {
    namespace: string;
    id: string;
    keyName: string;
    keyVersion: number;
    envelope: Buffer;
  }): Promise<void>;
  get(namespace: string, id: string): Promise<StoredEnvelope | undefined>;
  delete(namespace: string, id: string): Promise<boolean>;
  listWrappedBelow(
    keyName: string,
    belowVersion: number,
    options?: { after?: { namespace: string; id: string }; limit?: number },
  ): Promise<readonly StoredEnvelope[]>;
  replaceIfUnchanged(
    namespace: string,
    id: string,
    expected: Buffer,
    next: { keyVersion: number; envelope: Buffer },
  ): Promise<boolean>;
  countByVersion(keyName: string): Promise<Readonly<Record<number, number>>>;
}

export interface RewrapReport {
  readonly examined: number;
  readonly rewrapped: number;
  /** Changed by someone else between read and write; the next run takes them. */
  readonly raced: number;
  /** Could not be re-wrapped (for example their version is disabled or destroyed), by error code. */
  readonly failed: Readonly<Record<string, number>>;
}

const PART = /^[A-Za-z0-9._:-]{1,120}$/;

/** Objects are stored under namespace `<tenant>/<purpose>` and id `<recordId>`. */
function namespaceOf(context: Pick<EnvelopeContext, 'tenant' | 'purpose'>): string {
  if (!PART.test(context.tenant) || !PART.test(context.purpose)) {
    throw new KeyError('invalid_argument', 'tenant and purpose are 1-120 of A-Z a-z 0-9 . _ : -');
  }
  return `${context.tenant}/${context.purpose}`;
}

function contextOf(namespace: string): Pick<EnvelopeContext, 'tenant' | 'purpose'> {
  const [tenant, purpose, extra] = namespace.split('/');
  if (tenant === undefined || purpose === undefined || extra !== undefined) {
    throw new KeyError('invalid_argument', `namespace ${namespace} is not <tenant>/<purpose>`);
  }
  return { tenant, purpose };
}

/**
 * Envelope-encrypted objects in the Store: each is bound to its tenant, purpose and id, and
 * carries the key version that wraps its data key, so the re-wrap job can find what an old
 * version still protects and crypto-shredding can say what it will make unreadable.
 */
export class EncryptedObjects {
  constructor(
    private readonly keys: KeyManager,
    private readonly repository: EnvelopeRepository,
  ) {}

  async put(
    keyName: string,
    context: EnvelopeContext,
    plaintext: Uint8Array,
    options?: EncryptOptions,
  ): Promise<void> {
    const namespace = namespaceOf(context);
    const envelope = await this.keys.encrypt(keyName, plaintext, context, options);
    const { keyId } = parseEnvelope(envelope);
    await this.repository.put({
      namespace,
      id: context.recordId,
      keyName: keyId.name,
      keyVersion: keyId.version,
      envelope,
    });
  }

  async get(context: EnvelopeContext): Promise<Buffer | undefined> {
    const stored = await this.repository.get(namespaceOf(context), context.recordId);
    return stored ? this.keys.decrypt(stored.envelope, context) : undefined;
  }

  delete(context: EnvelopeContext): Promise<boolean> {
    return this.repository.delete(namespaceOf(context), context.recordId);
  }

  countByVersion(keyName: string): Promise<Readonly<Record<number, number>>> {
    return this.repository.countByVersion(keyName);
  }

  /**
   * Re-wraps every object whose data key is under an older version of `keyName` so that it is
   * under the primary; payloads are never decrypted. Safe to run while the gateway writes: each
   * replacement is compare-and-swap.
   */
  async rewrapAll(keyName: string, batchSize = 200): Promise<RewrapReport> {
    const primary = (await this.keys.describeKey(keyName)).primaryVersion;
    let examined = 0;
    let rewrapped = 0;
    let raced = 0;
    const failed: Record<string, number> = {};
    let after: { namespace: string; id: string } | undefined;
    for (;;) {
      const batch = await this.repository.listWrappedBelow(keyName, primary, {
        ...(after ? { after } : {}),
        limit: batchSize,
      });
      if (batch.length === 0) break;
      for (const object of batch) {
        examined++;
        try {
          const next = await this.keys.rewrap(object.envelope, contextOf(object.namespace));
          if (!next) continue;
          const { keyId } = parseEnvelope(next);
          const swapped = await this.repository.replaceIfUnchanged(
            object.namespace,
            object.id,
            object.envelope,
            {
              keyVersion: keyId.version,
              envelope: next,
            },
          );
          if (swapped) rewrapped++;
          else raced++;
        } catch (err) {
          const code = isKeyError(err) ? err.code : 'internal_error';
          failed[code] = (failed[code] ?? 0) + 1;
        }
      }
      const last = batch[batch.length - 1] as StoredEnvelope;
      after = { namespace: last.namespace, id: last.id };
    }
    return { examined, rewrapped, raced, failed };
  }
}
