// The console's server side against the real demo OpenID provider over real HTTP: the whole
// authorization-code + PKCE sign-in through oidc-provider's login and consent pages, sessions,
// CSRF on unsafe requests, sign-out, static files and their headers, path traversal.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { createLogger } from '../../src/cli/logger.js';
import { parseConfig, type IssuerConfig } from '../../src/config/index.js';
import { CONSOLE_CSP } from '../../src/console/static.js';
import { createConsoleServer, type ConsoleServer } from '../../src/console/server.js';
import type { AuditEntry } from '../../src/core/index.js';
import { startDemoIssuer, type DemoIssuer } from '../../src/demo/index.js';
import { createBus } from '../../src/store/index.js';
import type { StateBus } from '../../src/store/index.js';
import { LogCapture } from '../helpers/gateway.js';

const quiet = (): void => {};
const JWT = /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/;

/** Cookies per origin (host and port), as a browser keeps them for these tests. */
class CookieJar {
  readonly #jars = new Map<string, Map<string, string>>();

  header(url: URL): string {
    const jar = this.#jars.get(url.origin);
    return jar ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }

  store(url: URL, res: Response): void {
    let jar = this.#jars.get(url.origin);
    if (!jar) this.#jars.set(url.origin, (jar = new Map()));
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) jar.delete(name);
      else jar.set(name, value);
    }
  }

  get(origin: string, name: string): string | undefined {
    return this.#jars.get(origin)?.get(name);
  }

  set(origin: string, name: string, value: string): void {
    let jar = this.#jars.get(origin);
    if (!jar) this.#jars.set(origin, (jar = new Map()));
    jar.set(name, value);
  }

  delete(origin: string, name: string): void {
    this.#jars.get(origin)?.delete(name);
  }
}

interface Seen {
  readonly url: string;
  readonly status: number;
  readonly headers: string;
  readonly body: string;
}

describe('console server (BFF) with the demo issuer', () => {
  let home: string;
  let staticDir: string;
  let issuer: DemoIssuer;
  let bus: StateBus;
  let consoleServer: ConsoleServer;
  let app: FastifyInstance;
  let origin: string;
  const logs = new LogCapture();
  const audits: AuditEntry[] = [];
  /** Everything the console's origin answered, to look for tokens in. */
  const seen: Seen[] = [];
  /** Tokens the issuer's token endpoint handed to the server. */
  const issuedTokens: string[] = [];
  const realFetch = globalThis.fetch;

  async function browse(
    jar: CookieJar,
    url: string | URL,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ): Promise<{ res: Response; body: string }> {
    const target = new URL(url);
    const headers: Record<string, string> = { ...init.headers };
    const cookie = jar.header(target);
    if (cookie) headers.cookie = cookie;
    if (init.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await realFetch(target, {
      method: init.method ?? 'GET',
      headers,
      redirect: 'manual',
      ...(init.body !== undefined ? { body: init.body } : {}),
    });
    jar.store(target, res);
    const body = await res.text();
    if (target.origin === origin) {
      seen.push({
        url: target.href,
        status: res.status,
        headers: JSON.stringify([
          ...res.headers,
          ...res.headers.getSetCookie().map((c) => ['set-cookie', c]),
        ]),
        body,
      });
    }
    return { res, body };
  }

  /**
   * Drives the issuer's pages like a user: follows redirects, fills in the login form with `user` and
   * accepts the consent form, until the issuer sends the browser back to the console's origin.
   */
  async function throughIssuer(jar: CookieJar, start: string, user: string): Promise<URL> {
    let url = new URL(start);
    let init: { method?: string; body?: string } = {};
    for (let step = 0; step < 20; step++) {
      if (url.origin === origin) return url;
      const { res, body } = await browse(jar, url, init);
      init = {};
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        url = new URL(location, url);
        continue;
      }
      assert.equal(
        res.status,
        200,
        `issuer page ${url.pathname} answered ${res.status}: ${body.slice(0, 300)}`,
      );
      const action = /<form[^>]*action="([^"]+)"/.exec(body)?.[1];
      const prompt = /name="prompt" value="([a-z]+)"/.exec(body)?.[1];
      assert.ok(action && prompt, `no form on ${url.pathname}`);
      url = new URL(action.replace(/&amp;/g, '&'), url);
      const form = new URLSearchParams({ prompt });
      if (prompt === 'login') {
        form.set('login', user);
        form.set('password', 'anything');
      }
      init = { method: 'POST', body: form.toString() };
    }
    throw new Error('the issuer never sent the browser back');
  }

  /** Starts a sign-in and returns the callback URL the issuer redirected to (not yet followed). */
  async function toCallback(jar: CookieJar, user: string): Promise<URL> {
    const { res } = await browse(jar, `${origin}/console/login`);
    assert.equal(res.status, 302);
    return throughIssuer(jar, res.headers.get('location')!, user);
  }

  async function signIn(user: string): Promise<{ jar: CookieJar; csrf: string }> {
    const jar = new CookieJar();
    const callback = await toCallback(jar, user);
    const { res } = await browse(jar, callback);
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/console/');
    const session = await browse(jar, `${origin}/console/api/session`);
    assert.equal(session.res.status, 200);
    const csrf = (JSON.parse(session.body) as { csrfToken: string }).csrfToken;
    return { jar, csrf };
  }

  function rawGet(path: string): Promise<{ status: number; body: string }> {
    const { hostname, port } = new URL(origin);
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: hostname, port, path, method: 'GET' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'ztgate-console-'));
    staticDir = join(home, 'console');
    await mkdir(join(staticDir, 'assets'), { recursive: true });
    await writeFile(
      join(staticDir, 'index.html'),
      '<!doctype html><title>console</title><div id="app"></div>\n',
    );
    await writeFile(join(staticDir, 'assets', 'app-1234.js'), 'console.log("app");\n');
    await writeFile(join(staticDir, 'assets', 'app-1234.css'), 'body{margin:0}\n');
    await writeFile(join(home, 'secret.txt'), 'TOP-SECRET\n');
    await symlink(join(home, 'secret.txt'), join(staticDir, 'leak.txt'));

    // Record what the token endpoint hands the console (the server runs in this process).
    globalThis.fetch = async (input, init) => {
      const res = await realFetch(input, init);
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (issuer && url === `${issuer.issuer}/token`) {
        const json = (await res.clone().json()) as Record<string, unknown>;
        for (const key of ['access_token', 'id_token', 'refresh_token']) {
          if (typeof json[key] === 'string') issuedTokens.push(json[key]);
        }
      }
      return res;
    };

    issuer = await startDemoIssuer({ home, port: 0, audience: 'ztgate', onWarn: quiet });
    const issuerConfig: IssuerConfig = {
      issuer: issuer.issuer,
      audience: 'ztgate',
      algorithms: ['ES256'],
      clockSkewSeconds: 30,
      rolesClaim: 'roles',
      groupsClaim: 'groups',
    };
    bus = await createBus({ url: 'memory:', keyPrefix: 'test:' });
    const config = parseConfig('demo: { enabled: true }\n', {});
    consoleServer = await createConsoleServer({
      config,
      bus,
      logger: createLogger('debug', logs),
      issuer: issuerConfig,
      demo: { issuer: issuer.issuer },
      staticDir,
      audit: async (e) => audits.push(e),
    });
    app = Fastify();
    await consoleServer.register(app);
    app.get('/v1/whoami', async (request, reply) => {
      const who = consoleServer.principalOf(request);
      return who ? reply.send(who) : reply.code(401).send({ error: 'unauthenticated' });
    });
    app.post('/v1/poke', async (request, reply) => {
      const who = consoleServer.principalOf(request);
      return who
        ? reply.send({ poked: true, by: who.id })
        : reply.code(401).send({ error: 'unauthenticated' });
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  after(async () => {
    globalThis.fetch = realFetch;
    await app?.close();
    await consoleServer?.close();
    await bus?.close();
    await issuer?.close();
    await rm(home, { recursive: true, force: true });
  });

  test('/console/login redirects to the issuer with PKCE S256, state and nonce', async () => {
    const jar = new CookieJar();
    const { res } = await browse(jar, `${origin}/console/login`);
    assert.equal(res.status, 302);
    const location = new URL(res.headers.get('location')!);
    assert.equal(location.origin, issuer.issuer);
    const p = location.searchParams;
    assert.equal(p.get('response_type'), 'code');
    assert.equal(p.get('client_id'), 'ztgate-console');
    assert.equal(p.get('redirect_uri'), `${origin}/console/callback`);
    assert.equal(p.get('scope'), 'openid profile email roles');
    assert.equal(p.get('code_challenge_method'), 'S256');
    assert.match(p.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.match(p.get('nonce') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(p.get('state'), jar.get(origin, 'ztgate_login'));
    const setCookie = res.headers.getSetCookie().join('\n');
    assert.match(
      setCookie,
      /^ztgate_login=[A-Za-z0-9_-]{43}; Path=\/console; Max-Age=600; HttpOnly; SameSite=Lax$/,
    );
  });

  test('an admin signs in; the session names the user, roles and a CSRF token', async () => {
    const jar = new CookieJar();
    const callback = await toCallback(jar, 'admin-ann');
    assert.equal(callback.pathname, '/console/callback');
    const { res } = await browse(jar, callback);
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/console/');
    const cookies = res.headers.getSetCookie();
    const session = cookies.find((c) => c.startsWith('ztgate_session='));
    assert.match(
      session ?? '',
      /^ztgate_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=28800; HttpOnly; SameSite=Strict$/,
    );
    assert.ok(
      cookies.some((c) => /^ztgate_login=; Path=\/console; Max-Age=0/.test(c)),
      'login cookie cleared',
    );

    const info = await browse(jar, `${origin}/console/api/session`);
    assert.equal(info.res.status, 200);
    assert.equal(info.res.headers.get('cache-control'), 'no-store');
    const body = JSON.parse(info.body) as {
      user: { id: string; name?: string; roles: string[] };
      csrfToken: string;
      expiresAt: string;
    };
    assert.equal(body.user.id, `${issuer.issuer}#admin-ann`);
    assert.equal(body.user.name, 'admin-ann');
    assert.deepEqual(body.user.roles, ['ztgate-admin']);
    assert.match(body.csrfToken, /^[A-Za-z0-9_-]{43}$/);
    const ttl = Date.parse(body.expiresAt) - Date.now();
    assert.ok(ttl > 8 * 3600_000 - 60_000 && ttl <= 8 * 3600_000, `expiresAt ${body.expiresAt}`);

    const who = await browse(jar, `${origin}/v1/whoami`);
    assert.equal(who.res.status, 200);
    const principal = JSON.parse(who.body) as { kind: string; id: string; roles: string[] };
    assert.equal(principal.kind, 'user');
    assert.equal(principal.id, `${issuer.issuer}#admin-ann`);
    assert.deepEqual(principal.roles, ['ztgate-admin']);

    const signin = audits.find((e) => e.action === 'console.signin' && e.principalId === principal.id);
    assert.ok(signin, 'console.signin recorded');
    assert.equal(signin.phase, 'control');
    assert.equal(signin.authMethod, 'console');
    assert.ok(signin.transformations.includes('role:ztgate-admin'));
  });

  test('other users get the roles their names give them', async () => {
    const auditor = await signIn('auditor-al');
    const who = JSON.parse((await browse(auditor.jar, `${origin}/v1/whoami`)).body) as { roles: string[] };
    assert.deepEqual(who.roles, ['ztgate-auditor']);
    const bob = await signIn('bob');
    const bobWho = JSON.parse((await browse(bob.jar, `${origin}/v1/whoami`)).body) as {
      id: string;
      roles: string[];
    };
    assert.equal(bobWho.id, `${issuer.issuer}#bob`);
    assert.deepEqual(bobWho.roles, []);
  });

  test('an unsafe request needs the CSRF token and a same-origin Origin', async () => {
    const { jar, csrf } = await signIn('admin-ann');
    const poke = (headers: Record<string, string>) =>
      browse(jar, `${origin}/v1/poke`, { method: 'POST', headers });
    assert.equal((await poke({ origin })).res.status, 401, 'no CSRF header');
    assert.equal((await poke({ origin, 'x-csrf-token': 'x'.repeat(43) })).res.status, 401, 'wrong token');
    assert.equal((await poke({ origin, 'x-csrf-token': `${csrf}x` })).res.status, 401, 'longer token');
    assert.equal(
      (await poke({ origin: 'http://evil.example', 'x-csrf-token': csrf })).res.status,
      401,
      'foreign Origin',
    );
    const otherPort = origin.replace(/:\d+$/, ':1');
    assert.equal((await poke({ origin: otherPort, 'x-csrf-token': csrf })).res.status, 401, 'other port');
    assert.equal((await poke({ 'x-csrf-token': csrf })).res.status, 401, 'no Origin');
    const ok = await poke({ origin, 'x-csrf-token': csrf });
    assert.equal(ok.res.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { poked: true, by: `${issuer.issuer}#admin-ann` });
    // A safe method needs neither.
    assert.equal((await browse(jar, `${origin}/v1/whoami`)).res.status, 200);
    // Without a session the token alone is nothing.
    const stranger = new CookieJar();
    assert.equal(
      (
        await browse(stranger, `${origin}/v1/poke`, {
          method: 'POST',
          headers: { origin, 'x-csrf-token': csrf },
        })
      ).res.status,
      401,
    );
    const text = logs.text();
    for (const reason of ['csrf_token_missing', 'csrf_token_mismatch', 'origin_mismatch', 'origin_missing']) {
      assert.ok(text.includes(reason), `logged ${reason}`);
    }
  });

  test('a callback whose state does not match the login cookie is refused, and a replay too', async () => {
    const jar = new CookieJar();
    const callback = await toCallback(jar, 'admin-ann');
    const state = jar.get(origin, 'ztgate_login')!;

    // Another browser (no login cookie, or a different one) cannot complete this sign-in.
    const attacker = new CookieJar();
    const noCookie = await browse(attacker, callback);
    assert.equal(noCookie.res.status, 302);
    assert.equal(noCookie.res.headers.get('location'), '/console/?error=signin_failed');
    attacker.set(origin, 'ztgate_login', 'A'.repeat(43));
    const wrong = await browse(attacker, callback);
    assert.equal(wrong.res.headers.get('location'), '/console/?error=signin_failed');
    assert.equal(attacker.get(origin, 'ztgate_session'), undefined);

    // A state that is not the issuer's: the cookie matches the query but nothing is pending.
    const forged = new URL(callback);
    forged.searchParams.set('state', 'B'.repeat(43));
    attacker.set(origin, 'ztgate_login', 'B'.repeat(43));
    assert.equal(
      (await browse(attacker, forged)).res.headers.get('location'),
      '/console/?error=signin_failed',
    );

    // The real browser still completes it once...
    const first = await browse(jar, callback);
    assert.equal(first.res.headers.get('location'), '/console/');
    assert.ok(jar.get(origin, 'ztgate_session'));
    // ...and never twice, even with the same login cookie.
    const again = new CookieJar();
    again.set(origin, 'ztgate_login', state);
    const replay = await browse(again, callback);
    assert.equal(replay.res.headers.get('location'), '/console/?error=signin_failed');
    assert.equal(again.get(origin, 'ztgate_session'), undefined);
    assert.ok(logs.text().includes('state_unknown_or_used'));
    assert.ok(logs.text().includes('state_mismatch'));
  });

  test('a provider error is not echoed', async () => {
    const jar = new CookieJar();
    const { res } = await browse(jar, `${origin}/console/login`);
    const state = new URL(res.headers.get('location')!).searchParams.get('state')!;
    const url = `${origin}/console/callback?state=${state}&error=access_denied&error_description=%3Cscript%3Ehi`;
    const cb = await browse(jar, url);
    assert.equal(cb.res.status, 302);
    assert.equal(cb.res.headers.get('location'), '/console/?error=signin_failed');
    assert.ok(!cb.body.includes('script'));
  });

  test('logout needs CSRF, ends the session and clears the cookie', async () => {
    const { jar, csrf } = await signIn('admin-bo');
    const sessionId = jar.get(origin, 'ztgate_session')!;
    const noCsrf = await browse(jar, `${origin}/console/logout`, { method: 'POST', headers: { origin } });
    assert.equal(noCsrf.res.status, 401);
    assert.equal((await browse(jar, `${origin}/console/api/session`)).res.status, 200, 'still signed in');

    const out = await browse(jar, `${origin}/console/logout`, {
      method: 'POST',
      headers: { origin, 'x-csrf-token': csrf },
    });
    assert.equal(out.res.status, 204);
    assert.match(
      out.res.headers.getSetCookie().join('\n'),
      /^ztgate_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/,
    );
    assert.equal(jar.get(origin, 'ztgate_session'), undefined);
    assert.equal((await browse(jar, `${origin}/console/api/session`)).res.status, 401);

    // The old cookie, kept by someone, is worth nothing now.
    const stale = new CookieJar();
    stale.set(origin, 'ztgate_session', sessionId);
    assert.equal((await browse(stale, `${origin}/v1/whoami`)).res.status, 401);
    assert.equal((await browse(stale, `${origin}/console/api/session`)).res.status, 401);
    assert.ok(
      audits.some((e) => e.action === 'console.signout' && e.principalId === `${issuer.issuer}#admin-bo`),
    );
  });

  test('no session: the session endpoint answers 401 and principalOf gives nothing', async () => {
    const jar = new CookieJar();
    assert.equal((await browse(jar, `${origin}/console/api/session`)).res.status, 401);
    assert.equal((await browse(jar, `${origin}/v1/whoami`)).res.status, 401);
    jar.set(origin, 'ztgate_session', 'C'.repeat(43));
    assert.equal((await browse(jar, `${origin}/v1/whoami`)).res.status, 401);
  });

  test('static files carry the CSP and security headers, with their content types', async () => {
    const jar = new CookieJar();
    for (const path of ['/console', '/console/', '/console/incidents/42']) {
      const { res, body } = await browse(jar, `${origin}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(body, /<div id="app">/, path);
      assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('content-security-policy'), CONSOLE_CSP);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin');
    }
    assert.equal(
      CONSOLE_CSP,
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    const js = await browse(jar, `${origin}/console/assets/app-1234.js`);
    assert.equal(js.res.status, 200);
    assert.equal(js.res.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.match(js.res.headers.get('cache-control') ?? '', /immutable/);
    assert.equal(js.res.headers.get('content-security-policy'), CONSOLE_CSP);
    const css = await browse(jar, `${origin}/console/assets/app-1234.css`);
    assert.equal(css.res.headers.get('content-type'), 'text/css; charset=utf-8');
    const missing = await browse(jar, `${origin}/console/assets/missing.js`);
    assert.equal(missing.res.status, 404);
    assert.equal(missing.res.headers.get('content-security-policy'), CONSOLE_CSP);
    assert.equal((await browse(jar, `${origin}/console/api/unknown`)).res.status, 404);
    const post = await browse(jar, `${origin}/console/whatever`, { method: 'POST', body: 'a=b' });
    assert.equal(post.res.status, 404);
    assert.equal(post.res.headers.get('content-security-policy'), CONSOLE_CSP);
  });

  test('path traversal, encoded or not, symbolic links out and NUL bytes get 404', async () => {
    for (const path of [
      '/console/../package.json',
      '/console/../secret.txt',
      '/console/%2e%2e/secret.txt',
      '/console/%2E%2E/secret.txt',
      '/console/..%2fsecret.txt',
      '/console/%2e%2e%2fsecret.txt',
      '/console/assets/..%5c..%5csecret.txt',
      '/console/assets/%2e%2e/%2e%2e/secret.txt',
      '/console/%252e%252e/secret.txt',
      '/console/leak.txt',
      '/console/index.html%00.js',
      '/console/%00',
      '/console/.env',
      '/console//etc/passwd',
    ]) {
      const { status, body } = await rawGet(path);
      assert.ok(status === 404 || status === 400, `${path} answered ${status}`);
      assert.ok(!body.includes('TOP-SECRET') && !body.includes('"name": "ztgate"'), path);
    }
  });

  test('without a built front end a placeholder index is served', async () => {
    const other = await createConsoleServer({
      config: parseConfig('{}\n', {}),
      bus,
      logger: createLogger('silent'),
      issuer: undefined,
      staticDir: join(home, 'does-not-exist'),
      audit: async () => undefined,
    });
    const small = Fastify();
    await other.register(small);
    try {
      const res = await small.inject({ method: 'GET', url: '/console/' });
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /console front end is not built/);
      assert.equal(res.headers['content-security-policy'], CONSOLE_CSP);
      assert.doesNotMatch(res.body, /<script|style=/);
      const login = await small.inject({ method: 'GET', url: '/console/login' });
      assert.equal(login.statusCode, 302);
      assert.equal(login.headers.location, '/console/?error=signin_unavailable');
    } finally {
      await small.close();
    }
  });

  test('no token from the issuer ever reaches the browser', () => {
    assert.ok(issuedTokens.length >= 4, `saw ${issuedTokens.length} tokens from the token endpoint`);
    assert.ok(seen.length > 20);
    for (const response of seen) {
      const text = `${response.headers}\n${response.body}`;
      for (const token of issuedTokens) assert.ok(!text.includes(token), `a token in ${response.url}`);
      assert.doesNotMatch(text, JWT, response.url);
      for (const cookie of JSON.parse(response.headers) as [string, string][]) {
        if (cookie[0] !== 'set-cookie') continue;
        assert.match(cookie[1], /^(ztgate_session|ztgate_login)=([A-Za-z0-9_-]{43})?;/, response.url);
      }
    }
  });

  test('starting sign-ins is rate-limited per client address (each keeps a pending login on the bus)', async () => {
    let limited = 0;
    for (let i = 0; i < 40; i++) {
      const res = await realFetch(`${origin}/console/login`, { redirect: 'manual' });
      await res.body?.cancel();
      if (res.status === 429) limited++;
      else assert.equal(res.status, 302);
    }
    // A burst of 20, then one per 2 s: most of the 40 are refused.
    assert.ok(limited >= 15, `${limited} of 40 refused`);
  });
});
