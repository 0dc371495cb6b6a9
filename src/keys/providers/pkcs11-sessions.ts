/**
 * A bounded pool of PKCS#11 sessions for the pkcs11 provider. A session runs one operation at a
 * time, but a token serves many sessions in parallel (pkcs11js's *Async calls run off the event
 * loop), so the provider spreads its operations over a few sessions, all opened (and logged in)
 * at creation. An operation takes an idle session, or waits for one in FIFO order, and gives it
 * back when done. A session that failed because the token dropped it (or left an operation
 * active) is closed and reopened on its next use; the operation that hit the failure still fails.
 */
import pkcs11js from 'pkcs11js';
import type { Handle } from 'pkcs11js';
import { KeyError } from '../errors.js';
import { TokenMetadata } from './pkcs11-metadata.js';
import { ckrOf, closeUserSession, openUserSession, TOKEN_GONE, type Pkcs11Module } from './pkcs11-module.js';

/** How a pool opens and closes its sessions: on the token, or fakes in tests. */
export interface SessionFactory<S> {
  /** Opens a session ready for use; throws (a KeyError) when it cannot. */
  open(): S;
  /** Never throws. `handleGone`: the token already dropped the session; only release our hold. */
  close(session: S, handleGone: boolean): void;
}

/** A logged-in session on the token, with its own view of the key metadata. */
export interface TokenSession {
  readonly handle: Handle;
  readonly meta: TokenMetadata;
}

/** Sessions of the user on `slot`; the PIN is kept to log in again after the token reset. */
export function tokenSessions(
  module: Pkcs11Module,
  slot: Handle,
  pin: string,
  prefix: string,
): SessionFactory<TokenSession> {
  return {
    open() {
      const handle = openUserSession(module, slot, pin);
      return { handle, meta: new TokenMetadata(module.lib, handle, prefix) };
    },
    close(session, handleGone) {
      closeUserSession(module, slot, session.handle, handleGone);
    },
  };
}

/** What a failure says about the session it happened on: `gone` (the token dropped it),
 *  `broken` (close and reopen it), or nothing (the session is fine). */
type Damage = 'gone' | 'broken' | undefined;

export function damageOf(err: unknown): Damage {
  const rv = ckrOf(err);
  if (rv === undefined) return undefined;
  if (rv === pkcs11js.CKR_SESSION_HANDLE_INVALID || rv === pkcs11js.CKR_SESSION_CLOSED) return 'gone';
  if (TOKEN_GONE.has(rv) || rv === pkcs11js.CKR_OPERATION_ACTIVE) return 'broken';
  return undefined;
}

interface Entry<S> {
  /** Undefined after a failed reopen: the next use opens one. */
  session: S | undefined;
  damage: Damage;
}

interface Waiter<S> {
  readonly resolve: (entry: Entry<S>) => void;
  readonly reject: (err: Error) => void;
}

function closedError(): KeyError {
  return new KeyError('provider_closed', 'the pkcs11 key provider is closed');
}

export class SessionPool<S> {
  readonly size: number;
  private readonly idle: Entry<S>[];
  private readonly waiting: Waiter<S>[] = [];
  private busy = 0;
  private peak = 0;
  private closing: Promise<void> | undefined;
  private drained: (() => void) | undefined;

  private constructor(
    private readonly factory: SessionFactory<S>,
    sessions: readonly S[],
  ) {
    this.size = sessions.length;
    this.idle = sessions.map((session) => ({ session, damage: undefined }));
  }

  /** Opens `size` sessions; when one fails, closes those already open and throws its error. */
  static open<S>(size: number, factory: SessionFactory<S>): SessionPool<S> {
    const sessions: S[] = [];
    try {
      while (sessions.length < size) sessions.push(factory.open());
    } catch (err) {
      for (const session of sessions) factory.close(session, false);
      throw err;
    }
    return new SessionPool(factory, sessions);
  }

  /** Sessions running an operation now. */
  get inUse(): number {
    return this.busy;
  }

  /** The most sessions that ran operations at once. */
  get peakInUse(): number {
    return this.peak;
  }

  /** Runs `body` on a session of its own; errors pass through unchanged. */
  async use<T>(body: (session: S) => T | Promise<T>): Promise<T> {
    const entry = await this.acquire();
    try {
      return await body(this.ready(entry));
    } catch (err) {
      entry.damage ??= damageOf(err);
      throw err;
    } finally {
      this.release(entry);
    }
  }

  /** Waits for the operations under way, then closes every session. Waiting operations fail. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const waiter of this.waiting.splice(0)) waiter.reject(closedError());
    if (this.busy > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    for (const entry of this.idle.splice(0)) {
      if (entry.session !== undefined) this.factory.close(entry.session, entry.damage === 'gone');
    }
  }

  private acquire(): Promise<Entry<S>> {
    if (this.closing) return Promise.reject(closedError());
    const entry = this.idle.shift();
    if (!entry) return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.busy += 1;
    this.peak = Math.max(this.peak, this.busy);
    return Promise.resolve(entry);
  }

  private release(entry: Entry<S>): void {
    const waiter = this.waiting.shift();
    if (waiter) {
      waiter.resolve(entry);
      return;
    }
    this.idle.push(entry);
    this.busy -= 1;
    if (this.busy === 0) this.drained?.();
  }

  /** The entry's session, replaced first when a failure damaged it. */
  private ready(entry: Entry<S>): S {
    if (entry.session !== undefined && entry.damage === undefined) return entry.session;
    if (entry.session !== undefined) {
      const damaged = entry.session;
      entry.session = undefined;
      this.factory.close(damaged, entry.damage === 'gone');
    }
    entry.session = this.factory.open();
    entry.damage = undefined;
    return entry.session;
  }
}
