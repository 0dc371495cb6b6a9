// `ztgate audit erase` end to end through the built CLI (bin/ztgate.js: run `npm run build` first):
// content retained under per-subject keys, one subject erased, the rest still readable, the
// erasure in the ledger, and the ledger still verifying.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RetentionRef } from '../../src/core/index.js';
import { ensureHome, loadConfigFile } from '../../src/config/index.js';
import { controlAuditEntry } from '../../src/gateway/control-audit.js';
import { openKeyService } from '../../src/gateway/key-service.js';
import { leafHash } from '../../src/ledger/merkle.js';
import { rootHash } from '../../src/ledger/merkle-proofs.js';
import { verifyConsistency } from '../../src/ledger/merkle-verify.js';
import { RetentionVault, subjectHash } from '../../src/ledger/retention.js';
import { storedConsistencyProof } from '../../src/ledger/store-proofs.js';
import { createStore, type Store } from '../../src/store/index.js';

const BIN = fileURLToPath(new URL('../../bin/ztgate.js', import.meta.url));
const ALICE = 'https://idp.example/realms/corp#alice';
const BOB = 'https://idp.example/realms/corp#bob';

function ztgate(home: string, args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args, '--home', home], {
    encoding: 'utf8',
    env: { ...process.env, ZTGATE_MASTER_KEY: '' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The home's store, key service and vault, as the gateway opens them. */
async function open(home: string) {
  const { paths } = await ensureHome(home);
  const config = await loadConfigFile(paths.config);
  const store = await createStore({ url: config.store.url, home });
  const service = await openKeyService({ config, home, env: {}, store, authMethod: 'system' });
  const vault = new RetentionVault({
    keys: service.keys,
    objects: store.objects,
    period: config.ledger.retention.period,
    perSubject: config.ledger.retention.perSubject,
    actor: 'system:ledger',
  });
  return {
    store,
    vault,
    close: async () => {
      await service.close();
      await store.close();
    },
  };
}

/** Every leaf recomputed from its text; the root of those equals the stored tree head. */
async function verifies(store: Store): Promise<void> {
  const { size, rootHash: head } = await store.audit.treeHead();
  const leaves = await store.audit.leaves(0, size);
  const hashes = leaves.map((leaf) => {
    assert.deepEqual(leafHash(Buffer.from(leaf.text, 'utf8')), leaf.leafHash, `leaf ${leaf.index}`);
    return leaf.leafHash;
  });
  assert.equal(hashes.length, size);
  assert.deepEqual(await rootHash({ size, leafHash: (i) => hashes[i] as Buffer }, size), head);
}

describe('ztgate audit erase', () => {
  let home: string;
  let plainHome: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'ztgate-erase-cli-'));
    plainHome = await mkdtemp(join(tmpdir(), 'ztgate-erase-plain-'));
    await writeFile(
      join(home, 'ztgate.yaml'),
      'store:\n  url: sqlite:ztgate.db\nledger:\n  retention:\n    perSubject: true\n',
    );
    await writeFile(join(plainHome, 'ztgate.yaml'), 'store:\n  url: sqlite:ztgate.db\n');
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
    await rm(plainHome, { recursive: true, force: true });
  });

  it("shreds the subject's content only, records the erasure, and the ledger still verifies", async () => {
    const kept = await open(home);
    const refs = new Map<string, RetentionRef>();
    const ref = (id: string): RetentionRef => refs.get(id) as RetentionRef;
    try {
      for (const [id, subject, hours] of [
        ['a1', ALICE, 1],
        ['a2', ALICE, 24 * 40],
        ['b1', BOB, 1],
      ] as const) {
        const retention = await kept.vault.keep({
          requestId: id,
          subject,
          hours,
          content: { prompt: `prompt ${id}`, answer: `answer ${id}` },
        });
        await kept.store.audit.append({
          ...controlAuditEntry({
            action: 'test.retain',
            target: `request:${id}`,
            actor: 't',
            authMethod: 'test',
            outcome: 'ok',
          }),
          retention,
        });
        refs.set(id, retention);
      }
    } finally {
      await kept.close();
    }
    const seeded = await (async () => {
      const store = await createStore({ url: 'sqlite:ztgate.db', home });
      try {
        return await store.audit.treeHead();
      } finally {
        await store.close();
      }
    })();

    const r = ztgate(home, ['audit', 'erase', '--subject', ALICE, '--reason', 'GDPR art. 17 request']);
    assert.equal(r.status, 0, r.stderr);
    const hash = subjectHash(ALICE);
    const keyName = `ledger-subject-${hash.slice(0, 32)}`;
    assert.equal(
      r.stdout,
      `erased subject ${hash.slice(0, 16)}…: destroyed ${keyName}@1; content retained for it can no longer be read\n`,
    );

    const after = await open(home);
    try {
      assert.equal(await after.vault.read(ref('a1')), 'shredded');
      assert.equal(await after.vault.read(ref('a2')), 'shredded');
      assert.deepEqual(await after.vault.read(ref('b1')), {
        prompt: 'prompt b1',
        answer: 'answer b1',
      });

      const records = await after.store.audit.list({ limit: 1000 });
      const erase = records.map((x) => x.entry).filter((e) => e.action === 'audit.erase');
      assert.equal(erase.length, 1);
      assert.equal(erase[0]?.target, `subject-sha256:${hash}`);
      assert.equal(erase[0]?.status, 200);
      assert.deepEqual(erase[0]?.transformations, [
        'reason:GDPR art. 17 request',
        `key:${keyName}`,
        `destroyed:${keyName}@1`,
      ]);
      assert.ok(
        records.some((x) => x.entry.action === 'keys.destroy' && x.entry.target === `key:${keyName}@1`),
        'the key destruction is audited too',
      );
      const { size } = await after.store.audit.treeHead();
      const texts = (await after.store.audit.leaves(0, size)).map((l) => l.text).join('\n');
      assert.ok(!texts.includes(ALICE), 'the ledger never holds the erased subject id');

      // The entries before the erasure are unchanged: the grown tree is consistent with the old one.
      await verifies(after.store);
      const head = await after.store.audit.treeHead();
      verifyConsistency(
        seeded.size,
        head.size,
        await storedConsistencyProof(after.store.audit, seeded.size, head.size),
        seeded.rootHash,
        head.rootHash,
      );
    } finally {
      await after.close();
    }
  });

  it('fails clearly for a subject without a key, without per-subject keys, or without --subject', async () => {
    let r = ztgate(home, ['audit', 'erase', '--subject', 'https://idp.example/realms/corp#carol']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /subject_unknown: no content was ever retained under a key of this subject/);

    r = ztgate(plainHome, ['audit', 'erase', '--subject', ALICE]);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /per_subject_disabled: per-subject keys are not configured \(ledger\.retention\.perSubject/,
    );

    r = ztgate(home, ['audit', 'erase']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--subject ID is required/);

    const store = await createStore({ url: 'sqlite:ztgate.db', home: plainHome });
    try {
      const entries = (await store.audit.list({})).map((x) => x.entry);
      assert.deepEqual(
        entries.map((e) => `${e.action} ${e.target} ${e.errorCode}`),
        [`audit.erase subject-sha256:${subjectHash(ALICE)} per_subject_disabled`],
      );
    } finally {
      await store.close();
    }
  });
});
