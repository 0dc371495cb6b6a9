import type { KeyManager } from '../keys/index.js';
import {
  loadBundle,
  PolicyBundleError,
  PolicySignatureError,
  requireSignedBundle,
  runBundleTests,
  type PolicyBundle,
} from '../policy/index.js';

/** A bundle that passed every check, with the facts the status API shows. */
export interface AcceptedBundle {
  readonly bundle: PolicyBundle;
  readonly dir: string;
  readonly builtin: boolean;
  readonly loadedAt: string;
  /** The key that signed it, when `policy.requireSigned` checked a signature. */
  readonly signedBy: string | null;
  readonly tests: { readonly passed: number; readonly failed: number };
}

export interface BundleChecks {
  readonly requireSigned: boolean;
  readonly signingKeys: readonly string[];
  readonly keys: KeyManager;
}

/** Why a candidate was refused: a stable code and a message for logs (never for clients). */
export class BundleRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'BundleRefused';
  }
}

/**
 * Loads a candidate bundle and runs every check a running bundle must pass: it loads and
 * validates, its signature verifies (when required), and all its own test cases pass.
 */
export async function acceptBundle(
  dir: string,
  builtin: boolean,
  checks: BundleChecks,
): Promise<AcceptedBundle> {
  let bundle: PolicyBundle;
  try {
    bundle = await loadBundle(dir);
  } catch (err) {
    if (err instanceof PolicyBundleError) throw new BundleRefused(err.code, err.message);
    throw err;
  }
  let signedBy: string | null = null;
  if (checks.requireSigned && !builtin) {
    try {
      const signed = await requireSignedBundle({ dir, digest: bundle.digest }, checks.keys, {
        keyNames: checks.signingKeys,
      });
      signedBy = signed.keyId;
    } catch (err) {
      if (err instanceof PolicySignatureError) throw new BundleRefused(err.code, err.message);
      throw err;
    }
  }
  const report = runBundleTests(bundle);
  if (report.failed.length > 0) {
    const names = report.failed.slice(0, 5).map((f) => f.name);
    throw new BundleRefused(
      'policy.tests_failed',
      `${report.failed.length} of ${report.passed + report.failed.length} test cases failed: ${names.join('; ')}`,
    );
  }
  return {
    bundle,
    dir,
    builtin,
    loadedAt: new Date().toISOString(),
    signedBy,
    tests: { passed: report.passed, failed: 0 },
  };
}

export type ReloadTrigger = 'start' | 'watch' | 'signal' | 'admin' | 'replica';

export type ReloadOutcome =
  | { readonly outcome: 'replaced'; readonly digest: string; readonly previousDigest: string }
  | { readonly outcome: 'unchanged'; readonly digest: string }
  | {
      readonly outcome: 'rejected';
      readonly code: string;
      readonly message: string;
      readonly digest: string;
    };

export interface ReloadRecord {
  readonly at: string;
  readonly trigger: ReloadTrigger;
  readonly outcome: ReloadOutcome['outcome'];
  readonly code: string | null;
}

/**
 * The running bundle of one role (live or shadow). Reloads are serialised; a candidate that
 * fails any check never replaces the running bundle, which keeps serving.
 */
export class LiveBundle {
  #current: AcceptedBundle;
  #last: ReloadRecord | null = null;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    initial: AcceptedBundle,
    private readonly checks: BundleChecks,
  ) {
    this.#current = initial;
  }

  get current(): AcceptedBundle {
    return this.#current;
  }

  get bundle(): PolicyBundle {
    return this.#current.bundle;
  }

  get lastReload(): ReloadRecord | null {
    return this.#last;
  }

  reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const run = this.#queue.then(() => this.#reload(trigger));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const running = this.#current;
    let outcome: ReloadOutcome;
    try {
      const candidate = await acceptBundle(running.dir, running.builtin, this.checks);
      if (candidate.bundle.digest === running.bundle.digest) {
        outcome = { outcome: 'unchanged', digest: running.bundle.digest };
      } else {
        this.#current = candidate;
        outcome = {
          outcome: 'replaced',
          digest: candidate.bundle.digest,
          previousDigest: running.bundle.digest,
        };
      }
    } catch (err) {
      const refused =
        err instanceof BundleRefused
          ? err
          : new BundleRefused('policy.bundle_unreadable', err instanceof Error ? err.message : String(err));
      outcome = {
        outcome: 'rejected',
        code: refused.code,
        message: refused.message,
        digest: running.bundle.digest,
      };
    }
    this.#last = {
      at: new Date().toISOString(),
      trigger,
      outcome: outcome.outcome,
      code: outcome.outcome === 'rejected' ? outcome.code : null,
    };
    return outcome;
  }
}
