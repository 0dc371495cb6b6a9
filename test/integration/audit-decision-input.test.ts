// Recorded decision inputs in the audit store, and the `since` filter simulation pages with.
// Every Store implementation runs the same cases against a real database. PostgreSQL at
// 127.0.0.1:5432 is required; when it is down these tests fail, they never skip.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { AuditEntry, RecordedDecisionInput } from '../../src/core/index.js';
import type { AuditRepository } from '../../src/store/index.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { pgSpaces } from '../helpers/pg-spaces.js';
import { useStoreSpaces, type StoreFixture } from '../helpers/store-spaces.js';

const INPUT: RecordedDecisionInput = {
  version: 1,
  principal: {
    kind: 'user',
    id: 'https://idp.example#alice',
    roles: ['dev'],
    groups: ['eng', 'staff'],
    attributes: { homeRegion: 'eu', clearance: 3, contractor: false, projects: ['a', 'ü'] },
  },
  device: { id: 'laptop-1', trust: 'verified', managed: true, compliant: true },
  action: 'chat',
  resource: { type: 'Model', id: 'llama-onprem' },
  workspace: 'research',
  findings: [{ type: 'EMAIL_ADDRESS', detector: 'pii', score: 0.85 }, { type: 'SECRET' }],
  dataClass: 'internal',
  risk: 0,
  networkZone: 'corporate',
  residency: 'eu',
  time: { hour: 23, weekday: 'sun' },
  model: {
    provider: 'vllm',
    region: 'eu',
    runtimeKind: 'on_prem',
    attestationKind: 'none',
    attested: false,
    dataClasses: ['internal'],
    workspaces: ['research'],
  },
};

let n = 0;
function entry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  n++;
  return {
    requestId: `req-${n}`,
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, n % 60)).toISOString(),
    phase: 'release',
    action: 'chat.completions',
    principalId: 'https://idp.example#alice',
    authMethod: 'oidc',
    modelId: 'llama-onprem',
    upstreamId: 'vllm',
    decision: 'allow',
    determiningPolicies: ['allow-onprem-chat'],
    obligations: ['retain:30d'],
    bundleDigest: 'sha256:' + 'ab'.repeat(32),
    findings: { EMAIL_ADDRESS: 1 },
    transformations: [],
    status: 200,
    errorCode: null,
    stream: false,
    promptTokens: 1,
    completionTokens: 2,
    latencyMs: 3,
    promptSha256: 'cd'.repeat(32),
    answerSha256: null,
    decisionInput: INPUT,
    ...overrides,
  };
}

/** Waits until the clock has moved on, so that stored_at values on either side differ. */
async function instant(): Promise<string> {
  await sleep(5);
  const at = new Date().toISOString();
  await sleep(5);
  return at;
}

function decisionInputContract(name: string, makeFixture: () => Promise<StoreFixture>): void {
  describe(`audit decision input and since: ${name}`, () => {
    const spaces = useStoreSpaces(makeFixture, 'd');
    const fresh = async (): Promise<AuditRepository> => (await spaces.fresh()).audit;

    it('round-trips the recorded decision input exactly; entries without one stay without', async () => {
      const audit = await fresh();
      const withInput = entry();
      const { decisionInput: _d, ...without } = entry();
      await audit.append(withInput);
      await audit.append(without);
      const [a, b] = await audit.list();
      assert.deepEqual(a?.entry, withInput);
      assert.deepEqual(a?.entry.decisionInput, INPUT);
      assert.deepEqual(b?.entry, without);
      assert.equal('decisionInput' in (b?.entry ?? {}), false);
    });

    it('since keeps records stored at or after the time, alone and with the other filters', async () => {
      const audit = await fresh();
      await audit.append(entry({ requestId: 'old' }));
      const mid = await instant();
      await audit.append(entry({ requestId: 'new-1' }));
      await audit.append(entry({ requestId: 'new-2', principalId: 'bob' }));
      const ids = async (query: Parameters<AuditRepository['list']>[0]) =>
        (await audit.list(query)).map((r) => r.entry.requestId);
      assert.deepEqual(await ids({ since: mid }), ['new-1', 'new-2']);
      assert.deepEqual(await ids({ since: '2000-01-01T00:00:00.000Z' }), ['old', 'new-1', 'new-2']);
      assert.deepEqual(await ids({ since: '2999-01-01T00:00:00.000Z' }), []);
      assert.deepEqual(await ids({ since: mid, principalId: 'bob' }), ['new-2']);
      assert.deepEqual(await ids({ since: mid, requestId: 'old' }), []);
      assert.deepEqual(
        await ids({ since: mid, requestId: 'new-1', principalId: 'https://idp.example#alice' }),
        ['new-1'],
      );
      for (const r of await audit.list({ since: mid })) assert.ok(r.storedAt >= mid);
    });

    it('pages with afterSeq and since across more than one full page', async () => {
      const audit = await fresh();
      for (let i = 0; i < 5; i++) await audit.append(entry({ requestId: `before-${i}` }));
      const mid = await instant();
      const appended: number[] = [];
      for (let i = 0; i < 1005; i++) appended.push((await audit.append(entry())).seq);
      const seen: number[] = [];
      for (let afterSeq = 0; ;) {
        const page = await audit.list({ afterSeq, since: mid, limit: 1000 });
        seen.push(...page.map((r) => r.seq));
        const last = page[page.length - 1];
        if (page.length < 1000 || !last) break;
        afterSeq = last.seq;
      }
      assert.deepEqual(seen, appended);
    });
  });
}

decisionInputContract('sqlite file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ztgate-decision-input-'));
  return {
    open: async (space) => new SqliteStore({ path: join(dir, `${space}.db`) }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

decisionInputContract('sqlite :memory:', async () => ({
  open: async () => new SqliteStore({ path: ':memory:' }),
  cleanup: async () => undefined,
}));

decisionInputContract('postgres', async () => {
  const spaces = await pgSpaces();
  return { open: spaces.open, sql: spaces.sql, cleanup: spaces.cleanup };
});
