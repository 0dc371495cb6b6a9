import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkloadIdentity, workloadId, type SvidMaterial } from '../../../src/mesh/index.js';
import { eventually } from '../../helpers/mesh.js';

function fakeSvid(serial: number, ttlMs: number): SvidMaterial {
  const now = Date.now();
  return {
    spiffeId: workloadId('td', 'gateway', 'g'),
    chainPem: `cert-${serial}`,
    keyPem: `key-${serial}`,
    serial: String(serial),
    notBefore: new Date(now - 10_000),
    notAfter: new Date(now + ttlMs),
    obtainedAt: now,
  };
}

describe('WorkloadIdentity', () => {
  it('renews at two thirds of the lifetime and tells its listeners', async () => {
    let issued = 0;
    const started = Date.now();
    const identity = await WorkloadIdentity.start(async () => fakeSvid(++issued, 600));
    const seen: string[] = [];
    identity.onRenewed((svid) => seen.push(svid.serial));
    try {
      assert.equal(identity.current.serial, '1');
      await eventually(() => seen.length >= 1, 2000);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 350 && elapsed < 600, `renewed after ${elapsed} ms, expected about 400`);
      assert.equal(identity.current.serial, seen[0]);
      await eventually(() => seen.length >= 2, 2000);
    } finally {
      identity.close();
    }
  });

  it('a failed renewal is reported and retried; the current SVID stays until it succeeds', async () => {
    let calls = 0;
    const errors: unknown[] = [];
    const identity = await WorkloadIdentity.start(
      async () => {
        calls++;
        if (calls === 2) throw new Error('key provider down');
        return fakeSvid(calls, 900);
      },
      { onError: (err) => errors.push(err) },
    );
    try {
      await eventually(() => errors.length === 1, 2000);
      assert.equal(identity.current.serial, '1');
      await eventually(() => identity.current.serial === '3', 3000);
    } finally {
      identity.close();
    }
  });

  it('the first SVID must be obtained: a failure stops the start', async () => {
    await assert.rejects(
      WorkloadIdentity.start(async () => {
        throw new Error('no CA');
      }),
      { code: 'svid_issue_failed' },
    );
  });

  it('close stops renewals', async () => {
    let issued = 0;
    const identity = await WorkloadIdentity.start(async () => fakeSvid(++issued, 150));
    identity.close();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(issued, 1);
  });
});
