import { isKeyError, KeyError } from './errors.js';
import type { KeyAlgorithm } from './types.js';

export type KeyOperation =
  'create' | 'rotate' | 'disable' | 'enable' | 'destroy' | 'export_public' | 'rewrap';

/** One key-management operation, for the audit log. Holds ids and outcomes, never key material. */
export interface KeyAuditEvent {
  readonly operation: KeyOperation;
  /** `name@version` the operation acted on (for create/rotate: the new version), or the bare name on failure. */
  readonly keyId: string;
  readonly algorithm?: KeyAlgorithm;
  /** Who asked, for example `cli:alice@host` or `system:rotation`. */
  readonly actor: string;
  readonly outcome: 'ok' | 'failed';
  readonly errorCode?: string;
  readonly time: string;
}

/** What a finished operation records: the key id it produced or acted on, and its algorithm. */
export interface AuditedOutcome {
  readonly keyId: string;
  readonly algorithm?: KeyAlgorithm;
}

/**
 * Runs key operations and records each outcome. A failed operation is recorded (best effort) and
 * rethrown; a finished one whose record cannot be written fails with `audit_unavailable`, saying
 * that the operation itself happened.
 */
export class KeyAuditTrail {
  constructor(
    private readonly sink: ((event: KeyAuditEvent) => Promise<void>) | undefined,
    private readonly now: () => number,
  ) {}

  async run<T>(
    operation: KeyOperation,
    target: string,
    actor: string,
    work: () => Promise<T>,
    outcome: (result: T) => AuditedOutcome = () => ({ keyId: target }),
  ): Promise<T> {
    let result: T;
    try {
      result = await work();
    } catch (err) {
      const errorCode = isKeyError(err) ? err.code : 'internal_error';
      await this.record({ operation, keyId: target, actor, outcome: 'failed', errorCode }).catch(
        () => undefined,
      );
      throw err;
    }
    const done = outcome(result);
    try {
      await this.record({ operation, ...done, actor, outcome: 'ok' });
    } catch (err) {
      throw new KeyError(
        'audit_unavailable',
        `${operation} of ${done.keyId} was done, but its audit row could not be written: ${
          err instanceof Error ? err.message : String(err)
        }`,
        { cause: err },
      );
    }
    return result;
  }

  private async record(event: Omit<KeyAuditEvent, 'time'>): Promise<void> {
    await this.sink?.({ ...event, time: new Date(this.now()).toISOString() });
  }
}
