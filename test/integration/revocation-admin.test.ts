// POST/GET /admin/revocations: authorization before anything else, strict validation with
// stable codes, audit rows, and what happens when the bus or the audit log fails.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { AuditEntry } from '../../src/core/index.js';
import { registerAdminRevocations } from '../../src/gateway/admin-revocations.js';
import { RevocationList, tokenHash } from '../../src/identity/revocation-list.js';
import { MemoryBus } from '../../src/store/memory-bus.js';

/** The test's stand-in for mTLS: `x-test-admin: admin:NAME` is an administrator, anything else is not. */
function authorize(request: FastifyRequest): string | undefined | false {
  const header = request.headers['x-test-admin'];
  if (typeof header !== 'string') return undefined;
  return header.startsWith('admin:') ? `spiffe://test/${header.slice(6)}` : false;
}

const ADMIN = { 'x-test-admin': 'admin:ops' };

interface Harness {
  app: FastifyInstance;
  list: RevocationList;
  audit: AuditEntry[];
  bus: MemoryBus;
  failAudit: { on: boolean };
}

async function harness(options: { deadBus?: boolean } = {}): Promise<Harness> {
  const bus = new MemoryBus();
  const list = new RevocationList({ bus, snapshotIntervalMs: 0, maxTtlMs: 7 * 86_400_000 });
  await list.start();
  if (options.deadBus) await bus.close();
  const audit: AuditEntry[] = [];
  const failAudit = { on: false };
  const app = Fastify();
  app.get('/healthz', async () => ({ status: 'ok' }));
  await registerAdminRevocations(app, {
    revocations: list,
    authorize,
    audit: async (entry) => {
      if (failAudit.on) throw new Error('store down');
      audit.push(entry);
    },
  });
  await app.ready();
  return { app, list, audit, bus, failAudit };
}

function errorOf(body: string): { code: string; param: string | null; type: string; message: string } {
  return (
    JSON.parse(body) as { error: { code: string; param: string | null; type: string; message: string } }
  ).error;
}

describe('admin revocations API', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.app.close();
    await h.list.close();
    await h.bus.close();
  });

  it('refuses anonymous callers with 401 and non-administrators with 403, before reading the body', async () => {
    for (const method of ['GET', 'POST'] as const) {
      let res = await h.app.inject({
        method,
        url: '/admin/revocations',
        payload: method === 'POST' ? '{bad json' : undefined,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.statusCode, 401);
      assert.deepEqual(errorOf(res.body), {
        code: 'admin_unauthenticated',
        type: 'authentication_error',
        message: 'An administrator identity is required.',
        param: null,
      });
      res = await h.app.inject({
        method,
        url: '/admin/revocations',
        headers: { 'x-test-admin': 'user:eve', 'content-type': 'application/json' },
        ...(method === 'POST' ? { payload: '{"kind":"subject","value":"x"}' } : {}),
      });
      assert.equal(res.statusCode, 403);
      assert.equal(errorOf(res.body).code, 'admin_forbidden');
    }
    assert.equal(h.list.isRevoked({ subject: 'x' }).revoked, false);
    assert.equal(h.audit.length, 0);
    const health = await h.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200, 'routes outside the module are not affected');
  });

  it('revokes, answers 201, and audits who revoked what (a token only by a hash prefix)', async () => {
    const subject = 'https://idp.example#mallory';
    let res = await h.app.inject({
      method: 'POST',
      url: '/admin/revocations',
      headers: ADMIN,
      payload: { kind: 'subject', value: subject, reason: 'compromised', ttlSeconds: 3600 },
    });
    assert.equal(res.statusCode, 201, res.body);
    const { revocation } = JSON.parse(res.body) as { revocation: Record<string, string> };
    assert.equal(revocation.kind, 'subject');
    assert.equal(revocation.value, subject);
    assert.equal(revocation.actor, 'spiffe://test/ops');
    assert.equal(
      Date.parse(revocation.expiresAt as string) - Date.parse(revocation.revokedAt as string),
      3_600_000,
    );
    assert.deepEqual(h.list.isRevoked({ subject }), { revoked: true, kind: 'subject' });

    const hash = tokenHash('a.raw.token');
    res = await h.app.inject({
      method: 'POST',
      url: '/admin/revocations',
      headers: ADMIN,
      payload: { kind: 'token', value: hash },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(h.list.isRevoked({ tokenHash: hash }).revoked, true);

    assert.deepEqual(
      h.audit.map((e) => [e.phase, e.action, e.target, e.principalId, e.authMethod, e.status]),
      [
        ['control', 'revoke.subject', `subject:${subject}`, 'spiffe://test/ops', 'admin', 200],
        ['control', 'revoke.token', `token:${hash.slice(0, 16)}…`, 'spiffe://test/ops', 'admin', 200],
      ],
    );
    assert.deepEqual(h.audit[0]?.transformations, ['reason:compromised']);
    assert.ok(!JSON.stringify(h.audit).includes(hash), 'the full hash is not in the audit log');

    res = await h.app.inject({
      method: 'GET',
      url: '/admin/revocations?kind=subject&limit=10',
      headers: ADMIN,
    });
    assert.equal(res.statusCode, 200);
    const listed = JSON.parse(res.body) as { revocations: { kind: string; value: string }[] };
    assert.deepEqual(
      listed.revocations.map((r) => [r.kind, r.value]),
      [['subject', subject]],
    );
    res = await h.app.inject({ method: 'GET', url: '/admin/revocations', headers: ADMIN });
    assert.equal((JSON.parse(res.body) as { revocations: unknown[] }).revocations.length, 2);
  });

  it('validates strictly, with stable codes and the field at fault', async () => {
    const post = (payload: string, headers: Record<string, string> = {}) =>
      h.app.inject({
        method: 'POST',
        url: '/admin/revocations',
        headers: { ...ADMIN, 'content-type': 'application/json', ...headers },
        payload,
      });
    const cases: [string, number, string, string | null, Record<string, string>?][] = [
      ['{"kind":"subject"', 400, 'invalid_json', null],
      ['', 400, 'invalid_json', null],
      ['[]', 400, 'invalid_body', null],
      ['"subject"', 400, 'invalid_body', null],
      ['null', 400, 'invalid_body', null],
      ['{"kind":"subject","value":"x","extra":1}', 400, 'invalid_body', 'extra'],
      ['{"kind":"subject","value":"x","__proto__":{"admin":true}}', 400, 'invalid_json', null],
      ['{"kind":"user","value":"x"}', 400, 'invalid_kind', 'kind'],
      ['{"value":"x"}', 400, 'invalid_kind', 'kind'],
      ['{"kind":"subject"}', 400, 'invalid_value', 'value'],
      ['{"kind":"subject","value":42}', 400, 'invalid_value', 'value'],
      ['{"kind":"subject","value":"a\\u0000b"}', 400, 'invalid_value', 'value'],
      ['{"kind":"token","value":"eyJ.raw.token"}', 400, 'invalid_value', 'value'],
      ['{"kind":"apikey","value":"NOT-AN-ID"}', 400, 'invalid_value', 'value'],
      [`{"kind":"subject","value":"${'x'.repeat(513)}"}`, 400, 'invalid_value', 'value'],
      ['{"kind":"subject","value":"x","reason":7}', 400, 'invalid_reason', 'reason'],
      [`{"kind":"subject","value":"x","reason":"${'r'.repeat(501)}"}`, 400, 'invalid_reason', 'reason'],
      ['{"kind":"subject","value":"x","ttlSeconds":0}', 400, 'invalid_ttl', 'ttlSeconds'],
      ['{"kind":"subject","value":"x","ttlSeconds":1.5}', 400, 'invalid_ttl', 'ttlSeconds'],
      ['{"kind":"subject","value":"x","ttlSeconds":"60"}', 400, 'invalid_ttl', 'ttlSeconds'],
      ['{"kind":"subject","value":"x","ttlSeconds":604801}', 400, 'invalid_ttl', 'ttlSeconds'],
      [
        'kind=subject&value=x',
        415,
        'unsupported_media_type',
        null,
        { 'content-type': 'application/x-www-form-urlencoded' },
      ],
      [`{"kind":"subject","value":"x","reason":"${'r'.repeat(20_000)}"}`, 413, 'body_too_large', null],
    ];
    for (const [payload, status, code, param, headers] of cases) {
      const res = await post(payload, headers);
      assert.equal(res.statusCode, status, `${payload.slice(0, 60)}: ${res.body}`);
      const error = errorOf(res.body);
      assert.equal(error.code, code, payload.slice(0, 60));
      assert.equal(error.param, param, payload.slice(0, 60));
    }
    for (const query of ['kind=user', 'limit=0', 'limit=1001', 'limit=abc', 'other=1']) {
      const res = await h.app.inject({ method: 'GET', url: `/admin/revocations?${query}`, headers: ADMIN });
      assert.equal(res.statusCode, 400, query);
      assert.equal(errorOf(res.body).code, 'invalid_query');
    }
    assert.equal(h.list.isRevoked({ subject: 'x' }).revoked, false, 'nothing invalid was revoked');
  });

  it('answers 503 when the bus fails (audited as failed) and 500 audit_failed when the audit log does', async () => {
    const dead = await harness({ deadBus: true });
    try {
      const res = await dead.app.inject({
        method: 'POST',
        url: '/admin/revocations',
        headers: ADMIN,
        payload: { kind: 'device', value: 'laptop-1' },
      });
      assert.equal(res.statusCode, 503);
      assert.equal(errorOf(res.body).code, 'revocation_unavailable');
      assert.deepEqual(
        dead.audit.map((e) => [e.action, e.target, e.status, e.errorCode]),
        [['revoke.device', 'device:laptop-1', 500, 'revocation_unavailable']],
      );
    } finally {
      await dead.app.close();
      await dead.list.close();
    }

    h.failAudit.on = true;
    try {
      const res = await h.app.inject({
        method: 'POST',
        url: '/admin/revocations',
        headers: ADMIN,
        payload: { kind: 'device', value: 'laptop-2' },
      });
      assert.equal(res.statusCode, 500);
      const body = JSON.parse(res.body) as { error: { code: string }; revocation: { value: string } };
      assert.equal(body.error.code, 'audit_failed');
      assert.equal(body.revocation.value, 'laptop-2');
      assert.equal(h.list.isRevoked({ deviceId: 'laptop-2' }).revoked, true, 'the revocation still holds');
    } finally {
      h.failAudit.on = false;
    }
  });
});
