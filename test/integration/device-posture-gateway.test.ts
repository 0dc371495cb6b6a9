// Device posture through the running gateway: a request needs a fresh, bound assertion from the
// device-trust service, sent in x-device-posture; without one it is refused (onInvalid: refuse).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startTestDeviceService, type TestDeviceService } from '../helpers/oidc-device-service.js';

describe('device posture in the gateway', () => {
  let mdm: TestDeviceService;
  let t: TestGateway;
  let token: string;
  before(async () => {
    mdm = await startTestDeviceService();
    t = await startTestGateway({
      yaml: `
identity:
  devicePosture:
    enabled: true
    issuer: "${mdm.issuer}"
    jwksUri: "${mdm.jwksUri}"
    audience: ztgate
    algorithms: [ES256]
`,
    });
    token = await t.token('dora');
  });
  after(async () => {
    await t.close();
    await mdm.close();
  });

  const ask = (posture?: string) =>
    fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(posture ? { 'x-device-posture': posture } : {}),
      },
      body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }),
    });

  it('serves a caller with a fresh assertion about a managed device bound to them', async () => {
    const posture = await mdm.assert({ sub: 'dora', device_id: 'laptop-7', managed: true, compliant: true });
    const res = await ask(posture);
    assert.equal(res.status, 200, await res.text());
  });

  it('refuses a missing, unbound, stale or forged assertion', async () => {
    const cases: [string, string | undefined, RegExp][] = [
      ['missing', undefined, /posture_missing/],
      ['unbound', await mdm.assert({ sub: 'someone-else', device_id: 'laptop-7' }), /posture_unbound/],
      [
        'stale',
        await mdm.assert({ sub: 'dora', device_id: 'laptop-7', iat: Math.floor(Date.now() / 1000) - 3600 }),
        /posture_stale/,
      ],
      [
        'forged',
        await mdm.assert({ sub: 'dora', device_id: 'laptop-7' }, { header: { kid: 'not-the-mdm-key' } }),
        /posture_(forged|invalid)/,
      ],
    ];
    for (const [label, posture, reason] of cases) {
      const res = await ask(posture);
      assert.equal(res.status, 401, label);
      const body = (await res.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'unauthenticated');
      assert.match(t.logs.text(), reason, label);
    }
  });
});
