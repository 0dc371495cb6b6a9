import { MeshError } from './errors.js';
import type { SvidMaterial } from './svid.js';

/** Obtains a fresh SVID (new key pair, new certificate). */
export type SvidSource = () => Promise<SvidMaterial>;

export interface WorkloadIdentityOptions {
  /** Told when a renewal fails (it is retried); never given key material. */
  readonly onError?: (err: unknown) => void;
  /** Told after each renewal, with the new serial. */
  readonly onRenewed?: (svid: SvidMaterial) => void;
}

/** Longest a Node timer can wait; longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A workload's SVID that renews itself at two thirds of its lifetime (an unref'd timer), with a
 * new key pair each time. Listeners hear of each renewal so that TLS servers swap their secure
 * context and clients build new connections with the new certificate; connections already open
 * are left alone. A failed renewal is retried (a quarter of the remaining time, between 0.5 s and
 * 30 s) until it succeeds or the identity is closed; an SVID that expires meanwhile is refused by
 * peers (fail closed).
 */
export class WorkloadIdentity {
  private svid: SvidMaterial;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly listeners = new Set<(svid: SvidMaterial) => void>();

  private constructor(
    private readonly source: SvidSource,
    first: SvidMaterial,
    private readonly options: WorkloadIdentityOptions,
  ) {
    this.svid = first;
    this.schedule(this.renewAt(first));
  }

  /** Obtains the first SVID (failing when it cannot) and starts renewing. */
  static async start(source: SvidSource, options: WorkloadIdentityOptions = {}): Promise<WorkloadIdentity> {
    let first: SvidMaterial;
    try {
      first = await source();
    } catch (err) {
      if (err instanceof MeshError) throw err;
      throw new MeshError('svid_issue_failed', `could not obtain an SVID: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return new WorkloadIdentity(source, first, options);
  }

  get current(): SvidMaterial {
    return this.svid;
  }

  /** Calls `listener` with each new SVID; returns a function that stops it. */
  onRenewed(listener: (svid: SvidMaterial) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Renews now (also what the timer does). */
  async renew(): Promise<SvidMaterial> {
    const next = await this.source();
    if (this.closed) return next;
    this.svid = next;
    for (const listener of this.listeners) {
      try {
        listener(next);
      } catch (err) {
        this.options.onError?.(err);
      }
    }
    this.options.onRenewed?.(next);
    return next;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.listeners.clear();
  }

  private renewAt(svid: SvidMaterial): number {
    return svid.obtainedAt + ((svid.notAfter.getTime() - svid.obtainedAt) * 2) / 3;
  }

  private schedule(at: number): void {
    if (this.closed) return;
    const wait = Math.max(0, at - Date.now());
    this.timer = setTimeout(() => void this.tick(at), Math.min(wait, MAX_TIMER_MS));
    this.timer.unref();
  }

  private async tick(at: number): Promise<void> {
    if (this.closed) return;
    if (Date.now() < at) {
      this.schedule(at);
      return;
    }
    try {
      const next = await this.renew();
      this.schedule(this.renewAt(next));
    } catch (err) {
      this.options.onError?.(err);
      const remaining = this.svid.notAfter.getTime() - Date.now();
      this.schedule(Date.now() + Math.min(30_000, Math.max(500, remaining / 4)));
    }
  }
}
