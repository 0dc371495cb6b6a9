// Console sessions and pending sign-ins, kept on the StateBus so that every replica sharing a Redis
// bus knows them. A session id and a login state are bearer secrets: the bus stores them under their
// SHA-256 only, so a dump of the bus does not hand out working cookies.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { StateBus } from '../store/index.js';
import type { PolicyPrincipal } from '../policy/index.js';
import type { AttributeValue } from '../core/index.js';

/** How long a started sign-in may take before its state is forgotten. */
export const LOGIN_TTL_MS = 10 * 60_000;
/** 32 random bytes as base64url: a session id, a login state, a CSRF token. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

const SESSION_PREFIX = 'console:session:';
const LOGIN_PREFIX = 'console:login:';

/** A started sign-in, waiting for the issuer to send the browser back. */
export interface PendingLogin {
  readonly nonce: string;
  readonly codeVerifier: string;
  readonly redirectUri: string;
  readonly createdAt: number;
}

/** A signed-in console user. */
export interface ConsoleSession {
  readonly principal: PolicyPrincipal;
  /** Display name from the ID token, when it has one. */
  readonly name?: string;
  readonly csrfToken: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** 32 random bytes, base64url (43 characters). */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** A short, non-secret reference to a session for logs and the ledger. */
export function sessionRef(id: string): string {
  return createHash('sha256').update(`ztgate-console-session\0${id}`).digest('hex').slice(0, 16);
}

/** Compares two strings in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** The first well-formed value of a cookie, or undefined. */
export function cookieOf(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    if (TOKEN_PATTERN.test(value)) return value;
  }
  return undefined;
}

function keyOf(prefix: string, secret: string): string {
  return `${prefix}${createHash('sha256').update(secret).digest('base64url')}`;
}

export class ConsoleSessions {
  readonly #bus: StateBus;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(bus: StateBus, ttlMs: number, now: () => number = Date.now) {
    this.#bus = bus;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /** Stores a pending login under a fresh state; returns the state. */
  async startLogin(login: Omit<PendingLogin, 'createdAt'>): Promise<string> {
    const state = randomToken();
    const value: PendingLogin = { ...login, createdAt: this.#now() };
    await this.#bus.set(keyOf(LOGIN_PREFIX, state), JSON.stringify(value), LOGIN_TTL_MS);
    return state;
  }

  /** Takes a pending login (once: a second call, here or on another replica, gets undefined). */
  async takeLogin(state: string): Promise<PendingLogin | undefined> {
    if (!TOKEN_PATTERN.test(state)) return undefined;
    const key = keyOf(LOGIN_PREFIX, state);
    const raw = await this.#bus.get(key);
    // Whoever deletes the key owns the login: two concurrent callbacks cannot both succeed.
    if (raw === undefined || !(await this.#bus.delete(key))) return undefined;
    const login = parsePendingLogin(raw);
    if (!login || this.#now() - login.createdAt > LOGIN_TTL_MS) return undefined;
    return login;
  }

  /** Creates a session for a principal; returns its id (the cookie value) and the session. */
  async create(
    principal: PolicyPrincipal,
    name: string | undefined,
  ): Promise<{ id: string; session: ConsoleSession }> {
    const id = randomToken();
    const session: ConsoleSession = {
      principal,
      ...(name === undefined ? {} : { name }),
      csrfToken: randomToken(),
      expiresAt: this.#now() + this.#ttlMs,
    };
    await this.#bus.set(keyOf(SESSION_PREFIX, id), JSON.stringify(session), this.#ttlMs);
    return { id, session };
  }

  /** The live session with this id, or undefined (unknown, malformed or expired). */
  async get(id: string): Promise<ConsoleSession | undefined> {
    if (!TOKEN_PATTERN.test(id)) return undefined;
    const raw = await this.#bus.get(keyOf(SESSION_PREFIX, id));
    if (raw === undefined) return undefined;
    const session = parseSession(raw);
    if (!session || session.expiresAt <= this.#now()) return undefined;
    return session;
  }

  /** Ends a session; true when it existed. */
  async delete(id: string): Promise<boolean> {
    if (!TOKEN_PATTERN.test(id)) return false;
    return this.#bus.delete(keyOf(SESSION_PREFIX, id));
  }
}

function parseJson(raw: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(raw) as unknown;
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function parsePendingLogin(raw: string): PendingLogin | undefined {
  const v = parseJson(raw);
  if (
    !v ||
    typeof v.nonce !== 'string' ||
    typeof v.codeVerifier !== 'string' ||
    typeof v.redirectUri !== 'string' ||
    typeof v.createdAt !== 'number'
  ) {
    return undefined;
  }
  return { nonce: v.nonce, codeVerifier: v.codeVerifier, redirectUri: v.redirectUri, createdAt: v.createdAt };
}

function parseSession(raw: string): ConsoleSession | undefined {
  const v = parseJson(raw);
  const p = v && isRecord(v.principal) ? v.principal : undefined;
  if (
    !v ||
    !p ||
    (p.kind !== 'user' && p.kind !== 'service') ||
    typeof p.id !== 'string' ||
    !isStringArray(p.roles) ||
    !isStringArray(p.groups) ||
    typeof v.csrfToken !== 'string' ||
    !TOKEN_PATTERN.test(v.csrfToken) ||
    typeof v.expiresAt !== 'number' ||
    (v.name !== undefined && typeof v.name !== 'string')
  ) {
    return undefined;
  }
  const attributes = isRecord(p.attributes) ? (p.attributes as Record<string, AttributeValue>) : undefined;
  return {
    principal: {
      kind: p.kind,
      id: p.id,
      roles: p.roles,
      groups: p.groups,
      ...(attributes ? { attributes } : {}),
    },
    ...(typeof v.name === 'string' ? { name: v.name } : {}),
    csrfToken: v.csrfToken,
    expiresAt: v.expiresAt,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
