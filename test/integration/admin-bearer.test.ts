// Admin OIDC tokens: without admin mTLS, the admin API accepts bearer tokens from a configured
// issuer, verified as on the data plane; policy decides each action by the token's roles.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

describe('admin API with OIDC bearer tokens', () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway();
  });
  after(async () => {
    await t?.close();
  });

  const get = (path: string, token?: string) =>
    fetch(`${t.gw.adminUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

  it('an administrator token is allowed; its actor is the token principal', async () => {
    const admin = await t.token('root', ['ztgate-admin']);
    const res = await get('/v1/incidents', admin);
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(((await res.json()) as { incidents: unknown[] }).incidents, []);
    assert.equal((await get('/v1/runtimes', admin)).status, 200);
  });

  it('an auditor token may read the ledger but not manage keys', async () => {
    const auditor = await t.token('audrey', ['ztgate-auditor']);
    assert.equal((await get('/v1/ledger/entries', auditor)).status, 200);
    const keys = await get('/v1/keys', auditor);
    assert.equal(keys.status, 403);
    assert.equal(await codeOf(keys), 'admin_forbidden');
  });

  it('a user token without an admin role is refused; no or a forged token is unauthenticated', async () => {
    const user = await t.token('ursula');
    const res = await get('/v1/incidents', user);
    assert.equal(res.status, 403);
    assert.equal(await codeOf(res), 'admin_forbidden');
    const none = await get('/v1/incidents');
    assert.equal(none.status, 401);
    assert.equal(await codeOf(none), 'admin_unauthenticated');
    const admin = await t.token('root', ['ztgate-admin']);
    const [h, p, s] = admin.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p ?? '', 'base64url').toString()), sub: 'mallory' })).toString('base64url')}.${s}`;
    const bad = await get('/v1/incidents', forged);
    assert.equal(bad.status, 401);
    assert.equal(await codeOf(bad), 'admin_unauthenticated');
  });
});
