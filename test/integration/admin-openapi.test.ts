// The admin API's OpenAPI document against the implementation, on a real gateway with admin mTLS
// and its real store: every documented route answers on the live listener (and no undocumented
// method does), every route literal in src/gateway/admin*.ts is documented, the error-code table
// matches the ERRORS tables in the source, and real responses validate against the documented
// schemas (strict: `additionalProperties: false` catches a field the document does not name).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { RequestContext } from '../../src/core/index.js';
import { ADMIN_OPENAPI } from '../../src/gateway/openapi.js';
import { meshHome, startMeshGateway, TD, type MeshGateway, type MeshHome } from '../helpers/mesh.js';

type Json = Record<string, unknown>;
const DOC = JSON.parse(JSON.stringify(ADMIN_OPENAPI)) as {
  openapi: string;
  info: { title: string; version: string };
  tags: { name: string }[];
  security: Record<string, unknown[]>[];
  paths: Record<string, Record<string, Json>>;
  components: {
    schemas: Record<string, Json>;
    securitySchemes: Record<string, Json>;
    'x-ztgate-error-codes': Record<string, { status: number; type: string }>;
  };
};
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const ACTIONS = [
  'view_audit',
  'manage_policy',
  'manage_keys',
  'respond_incident',
  'manage_identity',
  'release_quarantine',
  'approve_tool_call',
];
const GATEWAY_SRC = fileURLToPath(new URL('../../src/gateway/', import.meta.url));

/** Every documented operation as `METHOD /path/{param}`. */
const documented = (): string[] =>
  Object.entries(DOC.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`),
  );

// --- JSON Schema validation of responses (Ajv, draft 2020-12, the dialect of OpenAPI 3.1) ---
const DOC_ID = 'https://ztgate.invalid/admin-openapi.json';
const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true, strict: true });
(addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
// The document's own top-level members are not schema keywords: annotations, so that $refs into it resolve.
for (const k of ['openapi', 'info', 'tags', 'security', 'paths', 'components']) ajv.addKeyword(k);
ajv.addSchema({ ...DOC, $id: DOC_ID });
const pointer = (...parts: string[]): string =>
  parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

function validatorOf(method: string, path: string, status: number, media = 'application/json') {
  const op = DOC.paths[path]?.[method.toLowerCase()] as { responses?: Record<string, Json> } | undefined;
  assert.ok(op, `${method} ${path} is documented`);
  assert.ok(op.responses?.[String(status)], `${method} ${path} documents status ${status}`);
  const at = `${DOC_ID}#/${pointer('paths', path, method.toLowerCase(), 'responses', String(status), 'content', media, 'schema')}`;
  const validate = ajv.getSchema(at);
  assert.ok(validate, `a schema at ${at}`);
  return validate;
}

function assertMatches(method: string, path: string, answer: Answer, expected: number): unknown {
  assert.equal(answer.status, expected, `${method} ${path}: ${answer.body}`);
  const body: unknown = JSON.parse(answer.body);
  const validate = validatorOf(method, path, answer.status);
  assert.ok(
    validate(body),
    `${method} ${path} ${answer.status} does not match the document: ${ajv.errorsText(validate.errors)}\n${answer.body}`,
  );
  return body;
}

function requestValidator(method: string, path: string) {
  const at = `${DOC_ID}#/${pointer('paths', path, method, 'requestBody', 'content', 'application/json', 'schema')}`;
  const validate = ajv.getSchema(at);
  assert.ok(validate, `a request schema at ${at}`);
  return validate;
}

// --- Requests over mTLS with any method ---
interface Answer {
  readonly status: number;
  readonly body: string;
  readonly contentType: string;
}
interface Client {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

function call(
  base: string,
  client: Client,
  method: string,
  path: string,
  body?: string,
  contentType = 'application/json',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${base}${path}`,
      {
        method,
        ca: client.ca,
        cert: client.cert,
        key: client.key,
        agent: false,
        checkServerIdentity: () => undefined,
        headers: body === undefined ? {} : { 'content-type': contentType },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            contentType: String(res.headers['content-type'] ?? ''),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Fastify's own 404 for a method and URL no route matches (not an admin route's 404 with a code). */
function isRouteNotFound(answer: Answer, method: string, url: string): boolean {
  if (answer.status !== 404) return false;
  try {
    const body = JSON.parse(answer.body) as { message?: unknown; error?: unknown; statusCode?: unknown };
    return (
      body.error === 'Not Found' &&
      body.statusCode === 404 &&
      body.message === `Route ${method}:${url} not found`
    );
  } catch {
    return false;
  }
}

// --- The route literals of the source ---
/** `METHOD /path/{param}` of every route src/gateway/admin*.ts and openapi.ts register. */
function sourceRoutes(): { routes: Set<string>; files: string[] } {
  const files = readdirSync(GATEWAY_SRC)
    .filter((f) => (f.startsWith('admin') && f.endsWith('.ts')) || f === 'openapi.ts')
    .sort();
  const routes = new Set<string>();
  for (const file of files) {
    const text = readFileSync(`${GATEWAY_SRC}${file}`, 'utf8');
    assert.doesNotMatch(text, /\.route\(\s*\{/, `${file} registers a route with .route(): scan it too`);
    // `for (const step of ['acknowledge', 'resolve'] as const)`: what `${step}` in a route expands to.
    const loops = new Map<string, string[]>();
    for (const m of text.matchAll(/for \(const (\w+) of \[([^\]]*)\]/g))
      loops.set(
        m[1]!,
        [...m[2]!.matchAll(/'([^']*)'/g)].map((v) => v[1]!),
      );
    for (const m of text.matchAll(
      /\b\w+\.(get|post|put|patch|delete|head|options|all)\(\s*(['`])(\/[^'`]*)\2/g,
    )) {
      let paths = [m[3]!];
      for (const v of m[3]!.matchAll(/\$\{(\w+)\}/g)) {
        const values = loops.get(v[1]!);
        assert.ok(values?.length, `${file}: cannot expand \${${v[1]}} in ${m[3]}`);
        paths = paths.flatMap((p) => values.map((value) => p.replace(v[0], value)));
      }
      for (const p of paths) routes.add(`${m[1]!.toUpperCase()} ${p.replace(/:(\w+)/g, '{$1}')}`);
    }
  }
  return { routes, files };
}

describe('the admin API OpenAPI document', () => {
  let h: MeshHome;
  let g: MeshGateway;
  let ada: Client;
  let bob: Client;
  const admin = (method: string, path: string, body?: unknown, who?: Client) =>
    call(g.gw.adminUrl, who ?? ada, method, path, body === undefined ? undefined : JSON.stringify(body));

  before(async () => {
    h = await meshHome();
    const a = await h.svid('ops', 'ada');
    const b = await h.svid('ops', 'bob');
    ada = { ca: h.ca.bundlePem, cert: a.chainPem, key: a.keyPem };
    bob = { ca: h.ca.bundlePem, cert: b.chainPem, key: b.keyPem };
    g = await startMeshGateway(
      h.home,
      `
server: { port: 0, adminPort: 0, adminTls: true, adminAllowedSpiffeIds: ["spiffe://${TD}/ops/*"] }
mesh: { enabled: true }
policy: { watch: false }
ledger: { checkpoint: { everyEntries: 1, intervalMs: 20 } }
upstreams:
  local: { kind: openai-compatible, baseUrl: "http://127.0.0.1:9/v1", region: eu-west, retries: 0 }
models:
  - { id: plain, upstream: local, upstreamModel: plain }
`,
    );
    await g.gw.keys.ensureKey('upstream-openai', 'aes-256-gcm', 'test');
  });

  after(async () => {
    await g?.close();
    await h?.close();
  });

  it('is a structurally valid OpenAPI 3.1 document: every $ref resolves, every schema compiles', () => {
    assert.equal(DOC.openapi, '3.1.0');
    assert.ok(DOC.info.title && DOC.info.version);
    assert.match(String((DOC.info as Json).description), /no secrets/);
    assert.ok(Object.keys(DOC.paths).length > 0 && DOC.components.schemas);
    const schemes = DOC.components.securitySchemes;
    assert.equal(schemes.mutualTLS?.type, 'mutualTLS');
    const tags = new Set(DOC.tags.map((t) => t.name));
    const ids = new Set<string>();
    for (const requirement of DOC.security)
      for (const name of Object.keys(requirement)) assert.ok(schemes[name]);
    for (const [path, item] of Object.entries(DOC.paths)) {
      assert.match(path, /^\/[A-Za-z0-9_./{}-]*$/);
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const method of Object.keys(item)) {
        assert.ok((METHODS as readonly string[]).includes(method), `${path}: ${method}`);
        const op = item[method] as Json & {
          operationId: string;
          responses: Record<string, Json>;
          parameters?: { name: string; in: string; required?: boolean }[];
          tags: string[];
          security?: unknown[];
        };
        assert.ok(!ids.has(op.operationId), `operationId ${op.operationId} is unique`);
        ids.add(op.operationId);
        for (const t of op.tags) assert.ok(tags.has(t), `tag ${t} declared`);
        assert.ok(Object.keys(op.responses).length > 0);
        for (const status of Object.keys(op.responses)) assert.match(status, /^[1-5][0-9]{2}$/);
        const inPath = (op.parameters ?? []).filter((p) => p.in === 'path');
        assert.deepEqual(
          inPath.map((p) => p.name).sort(),
          [...templated].sort(),
          `${method} ${path} path params`,
        );
        assert.ok(inPath.every((p) => p.required === true));
        const action = op['x-ztgate-action'];
        if (action === null)
          assert.deepEqual(op.security, [], `${method} ${path} asks no action, so no security`);
        else
          assert.ok(ACTIONS.includes(String(action)), `${method} ${path}: x-ztgate-action ${String(action)}`);
        for (const again of (op['x-ztgate-decided-again'] as string[] | undefined) ?? [])
          assert.ok(ACTIONS.includes(again));
        for (const [status, response] of Object.entries(op.responses)) {
          for (const media of Object.keys((response.content as Json | undefined) ?? {})) {
            const at = pointer('paths', path, method, 'responses', status, 'content', media, 'schema');
            assert.ok(ajv.getSchema(`${DOC_ID}#/${at}`), `compiles: ${at}`);
          }
        }
      }
    }
    // Every $ref resolves to an object in the document.
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref') refs.push(String(x));
          else walk(x);
        }
    };
    walk(DOC);
    assert.ok(refs.length > 20);
    for (const r of new Set(refs)) {
      assert.ok(r.startsWith('#/'), `local ref ${r}`);
      let at: unknown = DOC;
      for (const part of r.slice(2).split('/'))
        at = (at as Json | undefined)?.[part.replaceAll('~1', '/').replaceAll('~0', '~')];
      assert.ok(at && typeof at === 'object', `$ref ${r} resolves`);
    }
  });

  it('names the same error codes, statuses and types as the ERRORS tables of the source', () => {
    const table = DOC.components['x-ztgate-error-codes'];
    const inSource = new Map<string, { status: number; type: string }>();
    for (const file of readdirSync(GATEWAY_SRC).filter((f) => f.startsWith('admin') && f.endsWith('.ts'))) {
      const text = readFileSync(`${GATEWAY_SRC}${file}`, 'utf8');
      for (const m of text.matchAll(/\b(\w+): \{\s*status: (\d+),\s*type: '(\w+)'/g)) {
        const entry = { status: Number(m[2]), type: m[3]! };
        const seen = inSource.get(m[1]!);
        if (seen) assert.deepEqual(seen, entry, `${m[1]} means one thing in every file`);
        inSource.set(m[1]!, entry);
      }
    }
    assert.ok(inSource.size > 20);
    assert.deepEqual(
      Object.fromEntries([...inSource].sort(([a], [b]) => a.localeCompare(b))),
      Object.fromEntries(Object.entries(table).sort(([a], [b]) => a.localeCompare(b))),
    );
  });

  it('documents every route the source registers, and the source registers every documented route', () => {
    const { routes, files } = sourceRoutes();
    assert.ok(files.includes('admin-response.ts') && files.includes('admin.ts'));
    // The template-literal routes were expanded from the arrays their loops run over.
    for (const expanded of ['POST /v1/incidents/{id}/resolve', 'POST /v1/approvals/{id}/deny'])
      assert.ok(routes.has(expanded), expanded);
    const docs = new Set(documented());
    assert.deepEqual(
      [...routes].filter((r) => !docs.has(r)),
      [],
      'routes in src/gateway/admin*.ts that the document does not describe',
    );
    assert.deepEqual(
      [...docs].filter((r) => !routes.has(r)),
      [],
      'documented routes that no route literal in src/gateway/admin*.ts registers',
    );
  });

  it('serves itself at GET /v1/openapi.json, equal to ADMIN_OPENAPI', async () => {
    const res = await admin('GET', '/v1/openapi.json');
    assert.equal(res.status, 200, res.body);
    assert.match(res.contentType, /^application\/json/);
    assert.deepEqual(JSON.parse(res.body), DOC);
  });

  it('every documented route answers on the live listener; no undocumented method does', async () => {
    const probe = (path: string) => path.replace(/\{\w+\}/g, 'probe');
    for (const operation of documented()) {
      const [method, path] = operation.split(' ') as [string, string];
      const url = probe(path);
      // A body no route accepts: nothing changes (reload reloads the unchanged bundle).
      const res = await admin(method, url, method === 'POST' ? { probe: true } : undefined);
      assert.ok(!isRouteNotFound(res, method, url), `${operation} is documented but not served: ${res.body}`);
      assert.notEqual(res.status, 405, operation);
    }
    for (const [path, item] of Object.entries(DOC.paths)) {
      const url = probe(path);
      for (const m of METHODS.filter((x) => !item[x])) {
        const method = m.toUpperCase();
        const res = await admin(method, url, method === 'GET' || method === 'DELETE' ? undefined : {});
        assert.ok(
          isRouteNotFound(res, method, url),
          `${method} ${path} is served but not documented: ${res.status} ${res.body}`,
        );
      }
    }
    const unknown = await admin('GET', '/v1/undocumented');
    assert.ok(isRouteNotFound(unknown, 'GET', '/v1/undocumented'), 'the not-found check recognises a miss');
  });

  it('real responses match the documented schemas', async () => {
    // State to show: a revocation, a quarantine (with a release awaiting its second approval),
    // an acknowledged incident, a decided held tool call, keys, a signed checkpoint.
    const revocation = { kind: 'subject', value: 'idp#mallory', reason: 'contract test', ttlSeconds: 600 };
    assert.ok(requestValidator('post', '/admin/revocations')(revocation));
    assert.ok(!requestValidator('post', '/admin/revocations')({ ...revocation, extra: 1 }));
    assertMatches('POST', '/admin/revocations', await admin('POST', '/admin/revocations', revocation), 201);
    const quarantine = { kind: 'principal', id: 'idp#mallory', reason: 'contract test' };
    assert.ok(requestValidator('post', '/v1/quarantines')(quarantine));
    assertMatches('POST', '/v1/quarantines', await admin('POST', '/v1/quarantines', quarantine), 201);
    assertMatches(
      'POST',
      '/v1/quarantines',
      await admin('POST', '/v1/quarantines', { ...quarantine, id: 'idp#eve' }),
      201,
    );
    const target = { kind: 'principal', id: 'idp#mallory' };
    assertMatches(
      'POST',
      '/v1/quarantines/release',
      await admin('POST', '/v1/quarantines/release', target),
      202,
    );
    const incident = await g.gw.watch.incidents.open({
      playbookId: 'injection-attacker',
      subject: { kind: 'principal', id: 'idp#mallory' },
      severity: 'high',
      reason: 'contract test',
      evidence: ['req-evidence-1'],
    });
    const ack = `/v1/incidents/${incident.id}/acknowledge`;
    assertMatches(
      'POST',
      '/v1/incidents/{id}/acknowledge',
      await admin('POST', ack, { note: 'looking' }),
      200,
    );
    const ctx = { id: 'req-tool-1', principal: { id: 'idp#carol' }, request: { body: { model: 'plain' } } };
    const held = await g.gw.approvals.hold(ctx as unknown as RequestContext, {
      name: 'wire_transfer',
      arguments: '{}',
    });
    await g.gw.approvals.hold(ctx as unknown as RequestContext, { name: 'lookup', arguments: '{}' });
    const approve = `/v1/approvals/${held}/approve`;
    assertMatches('POST', '/v1/approvals/{id}/approve', await admin('POST', approve, { reason: 'ok' }), 200);
    let checkpoint = await admin('GET', '/v1/ledger/checkpoint');
    for (let i = 0; i < 100 && checkpoint.status === 404; i++) {
      await new Promise((r) => setTimeout(r, 50));
      checkpoint = await admin('GET', '/v1/ledger/checkpoint');
    }
    assert.equal(checkpoint.status, 200, checkpoint.body);
    assert.match(checkpoint.contentType, /^text\/plain/);
    assert.ok(validatorOf('GET', '/v1/ledger/checkpoint', 200, 'text/plain')(checkpoint.body));

    const gets: [string, string][] = [
      ['/v1/incidents', '/v1/incidents'],
      ['/v1/incidents/{id}', `/v1/incidents/${incident.id}`],
      ['/v1/quarantines', '/v1/quarantines'],
      ['/v1/approvals', '/v1/approvals'],
      ['/v1/approvals/{id}', `/v1/approvals/${held}`],
      ['/v1/risk', '/v1/risk?limit=5'],
      ['/v1/playbooks', '/v1/playbooks'],
      ['/v1/runtimes', '/v1/runtimes'],
      ['/v1/keys', '/v1/keys'],
      ['/admin/policy', '/admin/policy'],
      ['/admin/policy/shadow', '/admin/policy/shadow?limit=10'],
      ['/admin/revocations', '/admin/revocations?kind=subject'],
      ['/v1/ledger/entries', '/v1/ledger/entries?limit=50'],
      ['/v1/ledger/proof/inclusion', '/v1/ledger/proof/inclusion?index=0'],
      ['/v1/ledger/proof/consistency', '/v1/ledger/proof/consistency?from=1&to=2'],
      ['/healthz', '/healthz'],
    ];
    // The upstream does not listen, so /readyz answers 503 naming it: the documented 503 body.
    const ready = await admin('GET', '/readyz');
    assertMatches('GET', '/readyz', ready, 503);
    assert.equal((JSON.parse(ready.body) as { checks: Json }).checks['upstream:local'], 'failing');
    const bodies: Record<string, Json> = {};
    for (const [path, url] of gets)
      bodies[path] = assertMatches('GET', path, await admin('GET', url), 200) as Json;
    // The state above is really in the answers, so the schemas were checked against filled-in lists.
    assert.equal((bodies['/v1/quarantines']!.quarantines as unknown[]).length, 2);
    assert.equal((bodies['/v1/quarantines']!.pendingReleases as unknown[]).length, 1);
    assert.ok((bodies['/v1/incidents']!.incidents as unknown[]).length >= 1);
    assert.ok((bodies['/v1/approvals']!.approvals as { decidedBy?: string }[]).some((a) => a.decidedBy));
    assert.ok((bodies['/v1/keys']!.keys as unknown[]).length >= 1);
    assert.ok((bodies['/v1/runtimes']!.runtimes as unknown[]).length === 1);
    assert.ok((bodies['/v1/playbooks']!.playbooks as unknown[]).length >= 1);
    assert.ok((bodies['/admin/revocations']!.revocations as unknown[]).length === 1);
    assert.ok((bodies['/v1/ledger/entries']!.entries as unknown[]).length >= 3);
    const rotated = await admin('POST', '/v1/keys/upstream-openai/rotate');
    assertMatches('POST', '/v1/keys/{name}/rotate', rotated, 200);
    assertMatches('POST', '/admin/policy/reload', await admin('POST', '/admin/policy/reload'), 200);

    // A response with a field the document does not name fails validation.
    const incidents = bodies['/v1/incidents']!;
    assert.ok(!validatorOf('GET', '/v1/incidents', 200)({ ...incidents, extra: true }));
  });

  it('error responses match the documented codes of their route', async () => {
    const cases: [string, string, string, unknown, number, string][] = [
      ['GET', '/v1/incidents', '/v1/incidents?bogus=1', undefined, 400, 'invalid_query'],
      ['GET', '/v1/quarantines', '/v1/quarantines?x=1', undefined, 400, 'invalid_query'],
      ['GET', '/admin/revocations', '/admin/revocations?limit=0', undefined, 400, 'invalid_query'],
      [
        'GET',
        '/v1/incidents/{id}',
        '/v1/incidents/inc_AAAAAAAAAAAAAAAA',
        undefined,
        404,
        'incident_not_found',
      ],
      ['GET', '/v1/approvals/{id}', '/v1/approvals/nope', undefined, 404, 'approval_not_found'],
      ['POST', '/v1/keys/{name}/rotate', '/v1/keys/no-such-key/rotate', undefined, 404, 'key_not_found'],
      ['POST', '/v1/quarantines', '/v1/quarantines', { kind: 'galaxy', id: 'x' }, 400, 'invalid_body'],
      [
        'POST',
        '/admin/revocations',
        '/admin/revocations',
        { kind: 'token', value: 'short' },
        400,
        'invalid_value',
      ],
      [
        'GET',
        '/v1/ledger/proof/inclusion',
        '/v1/ledger/proof/inclusion?index=999999',
        undefined,
        400,
        'index_out_of_range',
      ],
      [
        'GET',
        '/v1/ledger/proof/consistency',
        '/v1/ledger/proof/consistency?from=2&to=1',
        undefined,
        400,
        'size_out_of_range',
      ],
    ];
    for (const [method, path, url, body, status, code] of cases) {
      const res = await admin(method, url, body);
      const parsed = assertMatches(method, path, res, status) as { error: { code: string } };
      assert.equal(parsed.error.code, code, `${method} ${url}`);
    }
    // Four eyes: the same administrator approving a release twice is refused (403).
    const target = { kind: 'principal', id: 'idp#eve' };
    assertMatches(
      'POST',
      '/v1/quarantines/release',
      await admin('POST', '/v1/quarantines/release', target),
      202,
    );
    const again = await admin('POST', '/v1/quarantines/release', target);
    assert.equal(
      (assertMatches('POST', '/v1/quarantines/release', again, 403) as { error: { code: string } }).error
        .code,
      'four_eyes_required',
    );
    assertMatches(
      'POST',
      '/v1/quarantines/release',
      await admin('POST', '/v1/quarantines/release', target, bob),
      200,
    );
    // A decided approval cannot be decided again (409), and a body of the wrong type is refused (415).
    const decided = (await g.gw.approvals.list('approved', 1))[0]!;
    const twice = await admin('POST', `/v1/approvals/${decided.id}/deny`, {});
    assert.equal(
      (assertMatches('POST', '/v1/approvals/{id}/deny', twice, 409) as { error: { code: string } }).error
        .code,
      'approval_not_pending',
    );
    const xml = await call(g.gw.adminUrl, ada, 'POST', '/v1/quarantines', '<a/>', 'application/xml');
    assert.equal(
      (assertMatches('POST', '/v1/quarantines', xml, 415) as { error: { code: string } }).error.code,
      'unsupported_media_type',
    );
    // An error code a route does not document fails validation.
    const wrong = { error: { message: 'x', type: 'not_found_error', code: 'key_not_found', param: null } };
    assert.ok(!validatorOf('GET', '/v1/incidents/{id}', 404)(wrong));
  });
});
