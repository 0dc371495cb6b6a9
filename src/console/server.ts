// The security console's server side on the admin listener (backend-for-frontend): its static
// files under /console with a strict CSP, OIDC sign-in (authorization code + PKCE, state, nonce),
// sessions on the StateBus behind an opaque HttpOnly cookie, and CSRF protection for every
// unsafe request a session authenticates. Tokens from the issuer never reach the browser.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import {
  ConfigError,
  resolveSecret,
  type IssuerConfig,
  type Unsealer,
  type ZtgateConfig,
} from '../config/index.js';
import type { AuditEntry } from '../core/index.js';
import { controlAuditEntry } from '../gateway/control-audit.js';
import type { PolicyPrincipal } from '../policy/index.js';
import type { StateBus } from '../store/index.js';
import { TokenBuckets } from '../agent/rate-limit.js';
import { OidcLogin, SigninError } from './oidc-login.js';
import {
  ConsoleSessions,
  LOGIN_TTL_MS,
  TOKEN_PATTERN,
  constantTimeEqual,
  cookieOf,
  randomToken,
  sessionRef,
  type ConsoleSession,
} from './sessions.js';
import { StaticFiles, setConsoleHeaders } from './static.js';

export const SESSION_COOKIE = 'ztgate_session';
export const LOGIN_COOKIE = 'ztgate_login';
export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const SIGNIN_FAILED = '/console/?error=signin_failed';
const SIGNIN_UNAVAILABLE = '/console/?error=signin_unavailable';

export interface ConsoleServer {
  /** Registers the console routes on the admin listener's Fastify app. */
  register(app: FastifyInstance): Promise<void>;
  /** The signed-in console user of a request (checked session + CSRF for unsafe methods), as a policy principal, or undefined. */
  principalOf(request: FastifyRequest): PolicyPrincipal | undefined;
  close(): Promise<void>;
}

export interface ConsoleServerOptions {
  readonly config: ZtgateConfig;
  readonly bus: StateBus;
  readonly logger: Logger;
  /** The console's OIDC issuer: config.console.issuer or, in demo mode, the demo issuer. */
  readonly issuer: IssuerConfig | undefined;
  readonly demo?: { issuer: string };
  /** The built front end, e.g. dist/console; when absent a minimal placeholder index is served. */
  readonly staticDir: string;
  readonly audit: (e: AuditEntry) => Promise<unknown>;
  /** Resolves `file:` references of console.clientSecret; default the working directory. */
  readonly home?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Opens a `sealed:` console.clientSecret. */
  readonly unseal?: Unsealer;
}

/**
 * The issuer console users sign in with: `console.issuer`, which must be one of `issuers` (the
 * configured ones, plus the demo issuer in demo mode), else the demo issuer, else none.
 */
export function consoleIssuerOf(
  config: ZtgateConfig,
  issuers: readonly IssuerConfig[],
  demoIssuer: string | undefined,
): IssuerConfig | undefined {
  const wanted = config.console.issuer ?? demoIssuer;
  if (wanted === undefined) return undefined;
  const found = issuers.find((i) => i.issuer === wanted);
  if (!found) throw new ConfigError([`console.issuer: ${wanted} is not one of identity.issuers`]);
  return found;
}

interface Loaded {
  readonly id: string;
  readonly session: ConsoleSession;
}

export async function createConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const { config, bus, audit } = options;
  const settings = config.console;
  const logger = options.logger.child({ component: 'console' });
  if (settings.issuer !== undefined) {
    if (!config.identity.issuers.some((i) => i.issuer === settings.issuer)) {
      throw new ConfigError([`console.issuer: ${settings.issuer} is not one of identity.issuers`]);
    }
    if (options.issuer && options.issuer.issuer !== settings.issuer) {
      throw new ConfigError([`console.issuer: ${settings.issuer} is not the issuer the console was given`]);
    }
  }
  const clientSecret =
    settings.clientSecret === undefined
      ? undefined
      : await resolveSecret(
          settings.clientSecret,
          'console.clientSecret',
          options.home ?? process.cwd(),
          options.env,
          options.unseal,
        );
  const sessions = new ConsoleSessions(bus, settings.sessionTtl);
  const files = new StaticFiles(options.staticDir);
  const loginStarts = new TokenBuckets(20, 0.5);
  const login = options.issuer
    ? new OidcLogin({
        issuer: options.issuer,
        clientId: settings.clientId,
        clientSecret,
        timeoutMs: config.identity.jwksTimeoutMs,
      })
    : undefined;
  const fixedOrigin = settings.redirectUri === undefined ? undefined : new URL(settings.redirectUri).origin;
  if (!login) logger.info('console sign-in is unavailable: no console.issuer and not in demo mode');
  else if (options.demo)
    logger.warn({ demo: true, issuer: options.demo.issuer }, 'console uses the DEMO issuer');

  const loaded = new WeakMap<FastifyRequest, Loaded>();
  const decided = new WeakMap<FastifyRequest, PolicyPrincipal | null>();

  /** The admin listener's origin as the browser sees it, or undefined when it cannot be trusted. */
  function adminOrigin(request: FastifyRequest): string | undefined {
    if (fixedOrigin) return fixedOrigin;
    const host = request.headers.host;
    if (typeof host !== 'string' || !/^[A-Za-z0-9.:[\]-]{1,262}$/.test(host)) return undefined;
    const candidate = `${request.protocol}://${host}`;
    if (!URL.canParse(candidate)) return undefined;
    const url = new URL(candidate);
    return LOOPBACK_HOSTS.has(url.hostname) ? url.origin : undefined;
  }

  function refuse(request: FastifyRequest, entry: Loaded, reason: string): undefined {
    logger.warn(
      {
        reason,
        actor: entry.session.principal.id,
        session: sessionRef(entry.id),
        method: request.method,
        url: request.url.split('?')[0],
      },
      'console session refused for an unsafe request',
    );
    return undefined;
  }

  function check(request: FastifyRequest): PolicyPrincipal | undefined {
    const entry = loaded.get(request);
    if (!entry || entry.session.expiresAt <= Date.now()) return undefined;
    if (!SAFE_METHODS.has(request.method)) {
      const token = request.headers[CSRF_HEADER];
      if (typeof token !== 'string' || token === '') return refuse(request, entry, 'csrf_token_missing');
      if (!constantTimeEqual(token, entry.session.csrfToken))
        return refuse(request, entry, 'csrf_token_mismatch');
      const origin = request.headers.origin;
      if (typeof origin !== 'string' || origin === '') return refuse(request, entry, 'origin_missing');
      const expected = adminOrigin(request);
      if (expected === undefined) return refuse(request, entry, 'admin_origin_unknown');
      if (origin !== expected) return refuse(request, entry, 'origin_mismatch');
    }
    return entry.session.principal;
  }

  function principalOf(request: FastifyRequest): PolicyPrincipal | undefined {
    if (!settings.enabled) return undefined;
    const cached = decided.get(request);
    if (cached !== undefined) return cached ?? undefined;
    const principal = check(request);
    decided.set(request, principal ?? null);
    return principal;
  }

  function cookie(request: FastifyRequest, name: string, value: string, attributes: string): string {
    const secure = request.protocol === 'https' ? '; Secure' : '';
    return `${name}=${value}; ${attributes}${secure}`;
  }

  async function record(
    action: 'console.signin' | 'console.signout',
    actor: string,
    id: string,
    details: readonly string[],
  ): Promise<void> {
    const entry = controlAuditEntry({
      action,
      target: `console-session:${sessionRef(id)}`,
      actor,
      authMethod: 'console',
      outcome: 'ok',
      details,
    });
    await audit(entry);
  }

  async function startLogin(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    reply.header('cache-control', 'no-store');
    if (!login) return reply.redirect(SIGNIN_UNAVAILABLE, 302);
    // Each start keeps a pending login on the bus for 10 min: bounded per client address.
    if (loginStarts.take(request.ip) > 0) return reply.code(429).send({ error: { code: 'rate_limited' } });
    const origin = adminOrigin(request);
    if (settings.redirectUri === undefined && origin === undefined) {
      logger.warn(
        { reason: 'host_not_loopback' },
        'console sign-in refused: set console.redirectUri when the admin listener is not reached on loopback',
      );
      return reply.redirect(SIGNIN_FAILED, 302);
    }
    const redirectUri = settings.redirectUri ?? `${origin}/console/callback`;
    const nonce = randomToken();
    const codeVerifier = randomToken();
    try {
      const state = await sessions.startLogin({ nonce, codeVerifier, redirectUri });
      const location = await login.authorizationUrl({ state, nonce, codeVerifier, redirectUri });
      reply.header(
        'set-cookie',
        cookie(
          request,
          LOGIN_COOKIE,
          state,
          `Path=/console; Max-Age=${LOGIN_TTL_MS / 1000}; HttpOnly; SameSite=Lax`,
        ),
      );
      return reply.redirect(location, 302);
    } catch (err) {
      logger.warn({ reason: reasonOf(err) }, 'console sign-in could not start');
      return reply.redirect(SIGNIN_FAILED, 302);
    }
  }

  async function callback(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    reply.header('cache-control', 'no-store');
    const cookies: string[] = [
      cookie(request, LOGIN_COOKIE, '', 'Path=/console; Max-Age=0; HttpOnly; SameSite=Lax'),
    ];
    const fail = (reason: string): FastifyReply => {
      logger.warn({ reason }, 'console sign-in failed');
      reply.header('set-cookie', cookies);
      return reply.redirect(SIGNIN_FAILED, 302);
    };
    if (!login) return fail('signin_unavailable');
    const query = request.query as Record<string, unknown>;
    const state = typeof query.state === 'string' ? query.state : '';
    const code = typeof query.code === 'string' ? query.code : '';
    const cookieState = cookieOf(request, LOGIN_COOKIE);
    if (!TOKEN_PATTERN.test(state)) return fail('state_missing');
    if (cookieState === undefined || !constantTimeEqual(cookieState, state)) return fail('state_mismatch');
    // One use: the state is gone from the bus from here on, whatever happens next.
    const pending = await sessions.takeLogin(state).catch(() => undefined);
    if (!pending) return fail('state_unknown_or_used');
    if (typeof query.error === 'string') {
      return fail(`provider_error:${/^[a-z_]{1,64}$/.test(query.error) ? query.error : 'unknown'}`);
    }
    if (code === '' || code.length > 4096) return fail('code_missing');
    let id: string;
    try {
      const { principal, name } = await login.complete({
        code,
        codeVerifier: pending.codeVerifier,
        redirectUri: pending.redirectUri,
        nonce: pending.nonce,
      });
      const policyPrincipal: PolicyPrincipal = {
        kind: principal.kind,
        id: principal.id,
        roles: [...principal.roles],
        groups: [...principal.groups],
        attributes: principal.attributes,
      };
      const created = await sessions.create(policyPrincipal, name);
      id = created.id;
      try {
        await record('console.signin', principal.id, id, [
          `issuer:${login.issuer}`,
          ...principal.roles.map((role) => `role:${role}`),
        ]);
      } catch (err) {
        // No ledger entry, no session: a sign-in nobody can account for does not happen.
        await sessions.delete(id).catch(() => undefined);
        throw new SigninError(`audit_failed:${err instanceof Error ? err.message : 'error'}`);
      }
      logger.info({ actor: principal.id, session: sessionRef(id) }, 'console sign-in');
    } catch (err) {
      return fail(reasonOf(err));
    }
    const previous = loaded.get(request);
    if (previous) await sessions.delete(previous.id).catch(() => undefined);
    cookies.push(
      cookie(
        request,
        SESSION_COOKIE,
        id,
        `Path=/; Max-Age=${Math.floor(settings.sessionTtl / 1000)}; HttpOnly; SameSite=Strict`,
      ),
    );
    reply.header('set-cookie', cookies);
    return reply.redirect('/console/', 302);
  }

  async function logout(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    reply.header('cache-control', 'no-store');
    const principal = principalOf(request);
    const entry = loaded.get(request);
    if (!principal || !entry) return reply.code(401).send({ error: { code: 'unauthenticated' } });
    await sessions.delete(entry.id);
    loaded.delete(request);
    try {
      await record('console.signout', principal.id, entry.id, []);
    } catch (err) {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, 'console sign-out not audited');
    }
    logger.info({ actor: principal.id, session: sessionRef(entry.id) }, 'console sign-out');
    reply.header(
      'set-cookie',
      cookie(request, SESSION_COOKIE, '', 'Path=/; Max-Age=0; HttpOnly; SameSite=Strict'),
    );
    return reply.code(204).send();
  }

  async function sessionInfo(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    reply.header('cache-control', 'no-store');
    const principal = principalOf(request);
    const entry = loaded.get(request);
    if (!principal || !entry) return reply.code(401).send({ error: { code: 'unauthenticated' } });
    const { session } = entry;
    return reply.send({
      user: {
        id: principal.id,
        ...(session.name === undefined ? {} : { name: session.name }),
        roles: principal.roles,
      },
      csrfToken: session.csrfToken,
      expiresAt: new Date(session.expiresAt).toISOString(),
    });
  }

  async function serveStatic(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const path = request.url.split('?')[0] ?? '';
    const rest =
      path === '/console' ? '' : path.startsWith('/console/') ? path.slice('/console/'.length) : undefined;
    if (rest === undefined || rest.startsWith('api/')) return notFound(reply);
    const file = await files.resolve(rest);
    if (!file) return notFound(reply);
    return reply.header('cache-control', file.cacheControl).type(file.contentType).send(file.body);
  }

  return {
    async register(app) {
      if (!settings.enabled) return;
      // At the root, so the admin API's scopes see the session (principalOf is synchronous).
      app.addHook('onRequest', async (request) => {
        const id = cookieOf(request, SESSION_COOKIE);
        if (id === undefined) return;
        try {
          const session = await sessions.get(id);
          if (session) loaded.set(request, { id, session });
        } catch (err) {
          logger.warn(
            { err: err instanceof Error ? err.message : String(err) },
            'console session not loaded',
          );
        }
      });
      await app.register(
        async (scope) => {
          scope.addHook('onRequest', async (_request, reply) => setConsoleHeaders(reply));
          scope.setNotFoundHandler((_request, reply) => notFound(reply));
          scope.get('/login', startLogin);
          scope.get('/callback', callback);
          scope.get('/api/session', sessionInfo);
          scope.post('/logout', logout);
          scope.get('/', serveStatic);
          scope.get('/*', serveStatic);
        },
        { prefix: '/console' },
      );
    },
    principalOf,
    async close() {
      // Sessions live on the bus (closed by its owner); nothing is held here.
    },
  };
}

function notFound(reply: FastifyReply): FastifyReply {
  return reply
    .code(404)
    .header('cache-control', 'no-store')
    .send({ error: { code: 'not_found' } });
}

function reasonOf(err: unknown): string {
  if (err instanceof SigninError) return err.code;
  return `error:${err instanceof Error ? err.message.slice(0, 200) : 'unknown'}`;
}
