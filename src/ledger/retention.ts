// STUB (being written by a helper): the contract other modules code against.
import type { RetentionRef } from '../core/index.js';
import type { KeyManager } from '../keys/index.js';
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

export class RetentionVault {
  constructor(readonly options: RetentionVaultOptions) {}

  /** Encrypts and stores the content until `hours` from now; returns the reference the ledger entry holds. */
  async keep(_input: {
    readonly requestId: string;
    readonly subject: string | null;
    readonly hours: number;
    readonly content: RetainedContent;
  }): Promise<RetentionRef> {
    throw new Error('not implemented yet');
  }

  /** The content, or `shredded` once its period or subject key is destroyed (or it expired). */
  async read(_ref: RetentionRef): Promise<RetainedContent | 'shredded'> {
    throw new Error('not implemented yet');
  }

  /** Destroys the keys of every period that has ended; returns the key names shredded. */
  async sweep(): Promise<{ readonly shredded: readonly string[] }> {
    throw new Error('not implemented yet');
  }

  /** Destroys every version of the subject's key (needs perSubject). */
  async eraseSubject(_subject: string): Promise<{ readonly keyName: string; readonly versions: number }> {
    throw new Error('not implemented yet');
  }
}
