import type { AuditRepository, StoredCheckpoint } from '../store/index.js';
import { signCheckpoint } from './checkpoint.js';
import type { NoteSigner } from './note.js';
import type { Witness } from './witness.js';

export interface CheckpointerOptions {
  readonly audit: Pick<AuditRepository, 'treeHead' | 'addCheckpoint' | 'latestCheckpoint'>;
  readonly origin: string;
  /** Builds the signer over the ledger key's primary version; called again after a signing failure. */
  readonly signer: () => Promise<NoteSigner>;
  /** A checkpoint is signed once this many leaves were appended since the last one... */
  readonly everyEntries: number;
  /** ...or, with any new leaf, after this long. */
  readonly intervalMs: number;
  readonly witnesses?: readonly Witness[];
  /** Told of failures (signing, storage, witnesses); the checkpointer keeps going. */
  readonly onError: (err: unknown, during: 'checkpoint' | 'witness', witness?: string) => void;
  readonly onCheckpoint?: (checkpoint: StoredCheckpoint) => void;
}

/**
 * Signs tree heads. Every replica runs one: a checkpoint commits to a size, and the store keeps the
 * first one stored per size (Ed25519 is deterministic, so two replicas signing the same head write
 * the same note). Runs on a timer and, between ticks, when enough leaves were appended.
 */
export class Checkpointer {
  readonly #options: CheckpointerOptions;
  #signer: Promise<NoteSigner> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<StoredCheckpoint | undefined> | undefined;
  #again = false;
  #lastSize = -1;
  #closed = false;

  constructor(options: CheckpointerOptions) {
    this.#options = options;
  }

  /** Starts the timer (unref'd: it never keeps the process alive). */
  async start(): Promise<void> {
    this.#lastSize = (await this.#options.audit.latestCheckpoint())?.size ?? -1;
    this.#timer = setInterval(() => void this.run(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Tells the checkpointer a leaf was appended at `index`; checkpoints early once enough are waiting. */
  appended(index: number): void {
    if (index + 1 - Math.max(0, this.#lastSize) >= this.#options.everyEntries) void this.run();
  }

  /**
   * Signs and stores a checkpoint of the current tree head when it is larger than the last one;
   * resolves to the latest checkpoint. Concurrent calls share one run (and one more after it).
   */
  run(): Promise<StoredCheckpoint | undefined> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#runOnce().finally(() => {
      this.#running = undefined;
      if (this.#again && !this.#closed) {
        this.#again = false;
        void this.run();
      }
    });
    return this.#running;
  }

  async #runOnce(): Promise<StoredCheckpoint | undefined> {
    const { audit, origin } = this.#options;
    try {
      const head = await audit.treeHead();
      if (head.size <= this.#lastSize) return await audit.latestCheckpoint();
      const note = await signCheckpoint({ origin, size: head.size, rootHash: head.rootHash }, [
        await this.#currentSigner(),
      ]);
      const checkpoint: StoredCheckpoint = {
        size: head.size,
        rootHash: head.rootHash,
        note,
        createdAt: new Date().toISOString(),
      };
      await audit.addCheckpoint(checkpoint);
      this.#lastSize = head.size;
      this.#options.onCheckpoint?.(checkpoint);
      this.#publish(checkpoint);
      return checkpoint;
    } catch (err) {
      // A rotated or re-created key: build the signer again next time.
      this.#signer = undefined;
      this.#options.onError(err, 'checkpoint');
      return undefined;
    }
  }

  #currentSigner(): Promise<NoteSigner> {
    if (!this.#signer) {
      const signer = this.#options.signer();
      signer.catch(() => {
        if (this.#signer === signer) this.#signer = undefined;
      });
      this.#signer = signer;
    }
    return this.#signer;
  }

  #publish(checkpoint: StoredCheckpoint): void {
    for (const witness of this.#options.witnesses ?? []) {
      witness
        .publish(checkpoint.note, checkpoint.size)
        .catch((err: unknown) => this.#options.onError(err, 'witness', witness.name));
    }
  }

  /** Stops the timer and signs a last checkpoint of what was appended. */
  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#timer);
    await this.run();
    this.#closed = true;
  }
}
