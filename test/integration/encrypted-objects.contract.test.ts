// The EncryptedObjectRepository contract: every Store implementation runs the same cases against a
// real database. PostgreSQL at 127.0.0.1:5432 is required; when it is down these tests fail, they
// never skip.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { AuditEntry } from '../../src/core/index.js';
import type { EncryptedObject, EncryptedObjectRepository } from '../../src/store/index.js';
import { PostgresStore } from '../../src/store/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { pgSpaces } from '../helpers/pg-spaces.js';
import { useStoreSpaces, type StoreFixture as BaseFixture } from '../helpers/store-spaces.js';

const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** What an implementation can do, which decides the cases that apply to it. */
interface StoreTraits {
  /** Data survives close() and is found by the next open() of the same space. */
  readonly durable: boolean;
}

/** How a contract run reaches one implementation. */
interface StoreFixture extends BaseFixture {
  /**
   * Creates `space` as the schema-version-1 build left it (audit_log only) holding `entries`, for
   * the upgrade case (file and server databases only). The DDL is a frozen copy of migration 1.
   */
  readonly createVersion1?: (space: string, entries: readonly AuditEntry[]) => Promise<void>;
}

type PutInput = Parameters<EncryptedObjectRepository['put']>[0];

/** An envelope-like blob: a fake header naming the key, then random bytes with NULs in them. */
function envelope(keyName = 'pseudonym-vault', keyVersion = 1, size = 64): Buffer {
  const header = Buffer.from(`ZTE1\u0000${keyName}\u0000${keyVersion}\u0000`);
  const body = randomBytes(Math.max(0, size - header.length));
  for (let i = 0; i < body.length; i += 7) body[i] = 0;
  return Buffer.concat([header, body]).subarray(0, Math.max(size, 1));
}

function object(namespace: string, id: string, keyName = 'pseudonym-vault', keyVersion = 1): PutInput {
  return { namespace, id, keyName, keyVersion, envelope: envelope(keyName, keyVersion) };
}

const keysOf = (objects: readonly EncryptedObject[]): string[] =>
  objects.map((o) => `${o.namespace}/${o.id}`);

/** Asserts that `actual` is what `expected` put, with sane timestamps. */
function assertStored(actual: EncryptedObject | undefined, expected: PutInput): EncryptedObject {
  assert.ok(actual, `${expected.namespace}/${expected.id} is stored`);
  assert.equal(actual.namespace, expected.namespace);
  assert.equal(actual.id, expected.id);
  assert.equal(actual.keyName, expected.keyName);
  assert.equal(actual.keyVersion, expected.keyVersion);
  assert.equal(typeof actual.keyVersion, 'number');
  assert.ok(Buffer.isBuffer(actual.envelope), 'the envelope is a Buffer');
  assert.equal(actual.envelope.length, expected.envelope.length);
  assert.ok(actual.envelope.equals(expected.envelope), 'the envelope is byte for byte what was put');
  for (const time of [actual.createdAt, actual.updatedAt]) {
    assert.equal(new Date(time).toISOString(), time, 'ISO-8601 time');
  }
  assert.ok(actual.updatedAt >= actual.createdAt);
  return actual;
}

let entryCounter = 0;

/** A fully populated audit entry. */
function auditEntry(): AuditEntry {
  const n = ++entryCounter;
  return {
    requestId: `req-${n}`,
    time: new Date(Date.UTC(2025, 0, 1, 0, 0, n % 60)).toISOString(),
    phase: 'release',
    action: 'chat.completions',
    principalId: `user-${n}`,
    authMethod: 'jwt',
    modelId: 'gpt-test',
    upstreamId: 'openai',
    decision: 'allow',
    determiningPolicies: ['p-1'],
    obligations: [],
    bundleDigest: null,
    findings: { EMAIL_ADDRESS: n },
    transformations: [],
    status: 200,
    errorCode: null,
    stream: false,
    promptTokens: 1,
    completionTokens: 2,
    latencyMs: 3,
    promptSha256: null,
    answerSha256: null,
  };
}

function encryptedObjectsContract(
  name: string,
  traits: StoreTraits,
  makeFixture: () => Promise<StoreFixture>,
): void {
  describe(`EncryptedObjectRepository contract: ${name}`, () => {
    const spaces = useStoreSpaces(makeFixture, 'o');
    const open = spaces.open;
    const fixture = {
      get sql() {
        return spaces.fixture().sql;
      },
      get createVersion1() {
        return spaces.fixture().createVersion1;
      },
    };
    const fresh = async (): Promise<EncryptedObjectRepository> => (await spaces.fresh()).objects;

    it('put and get round-trip binary envelopes, including NUL bytes and 1 MB', async () => {
      const objects = await fresh();
      const nul = { ...object('pseudonyms', 'nul'), envelope: Buffer.from([0, 0, 0x01, 0x00, 0xff, 0x00]) };
      const single = { ...object('pseudonyms', 'single'), envelope: Buffer.alloc(1) };
      const big = {
        ...object('audit-payloads', 'big', 'audit', 7),
        envelope: envelope('audit', 7, 1024 * 1024),
      };
      const unicode = object('pseudonyms', 'ü-😀-\u{e000}-é');
      const longest = object('n'.repeat(256), 'i'.repeat(256), 'k'.repeat(256), Number.MAX_SAFE_INTEGER);
      const view = new Uint8Array([9, 0, 8, 0]);
      const all = [nul, single, big, unicode, longest];
      const before = Date.now();
      for (const o of all) await objects.put(o);
      // Any Uint8Array is accepted as a Buffer.
      await objects.put({ ...object('pseudonyms', 'view'), envelope: view as Buffer });
      for (const o of all) {
        const stored = assertStored(await objects.get(o.namespace, o.id), o);
        assert.ok(Date.parse(stored.createdAt) >= before - 1000);
      }
      assert.deepEqual([...(await objects.get('pseudonyms', 'view'))!.envelope], [9, 0, 8, 0]);
      assert.equal(await objects.get('pseudonyms', 'missing'), undefined);
      // The same id in another namespace is another object.
      assert.equal(await objects.get('audit-payloads', 'nul'), undefined);
      // Ids compare exactly: no case folding, no Unicode normalisation, no trimming.
      assert.equal(await objects.get('pseudonyms', 'NUL'), undefined);
      assert.equal(await objects.get('pseudonyms', 'u\u0308-😀-\u{e000}-é'), undefined);
      assert.equal(await objects.get('pseudonyms', 'nul '), undefined);
      // The caller's buffer is not retained: changing it later does not change the stored copy.
      const kept = Buffer.from(nul.envelope);
      nul.envelope.fill(0x55);
      assert.ok((await objects.get('pseudonyms', 'nul'))!.envelope.equals(kept));
    });

    it('put replaces an existing (namespace, id), keeping its creation time', async () => {
      const objects = await fresh();
      const first = object('pseudonyms', 'a', 'pseudonym-vault', 1);
      await objects.put(first);
      const created = assertStored(await objects.get('pseudonyms', 'a'), first);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const second = {
        ...object('pseudonyms', 'a', 'other-key', 4),
        envelope: envelope('other-key', 4, 300),
      };
      await objects.put(second);
      const replaced = assertStored(await objects.get('pseudonyms', 'a'), second);
      assert.equal(replaced.createdAt, created.createdAt);
      assert.ok(replaced.updatedAt > created.updatedAt, 'updatedAt moves forward');
      assert.deepEqual(await objects.countByVersion('pseudonym-vault'), {});
      assert.deepEqual(await objects.countByVersion('other-key'), { 4: 1 });
    });

    it('delete removes one object and says whether it existed', async () => {
      const objects = await fresh();
      await objects.put(object('pseudonyms', 'x'));
      await objects.put(object('other', 'x'));
      assert.equal(await objects.delete('pseudonyms', 'x'), true);
      assert.equal(await objects.get('pseudonyms', 'x'), undefined);
      assert.equal(await objects.delete('pseudonyms', 'x'), false);
      assert.equal(await objects.delete('pseudonyms', 'never'), false);
      assert.ok(await objects.get('other', 'x'), 'the same id in another namespace stays');
      assert.deepEqual(await objects.countByVersion('pseudonym-vault'), { 1: 1 });
      // A deleted (namespace, id) can be put again.
      await objects.put(object('pseudonyms', 'x', 'pseudonym-vault', 2));
      assert.equal((await objects.get('pseudonyms', 'x'))?.keyVersion, 2);
    });

    it('listWrappedBelow pages across namespaces in (namespace, id) order with after and limit', async () => {
      const objects = await fresh();
      // Versions 1 and 2 interleave in key order, so a page must merge them. Names sort as UTF-8
      // bytes: "id-10" before "id-2", "Zulu" before "alpha", "é" after ASCII, and U+E000 before
      // U+1F600 (JavaScript's UTF-16 `<` puts the emoji's surrogates first).
      const wanted: string[] = [];
      const puts: PutInput[] = [];
      for (const namespace of ['beta', 'alpha', 'gamma', 'Zulu', 'é']) {
        for (const id of ['id-2', 'id-10', 'id-1', 'ID-3', '\u{e000}', '😀']) {
          const version = (wanted.length % 2) + 1;
          puts.push(object(namespace, id, 'k', version));
          wanted.push(`${namespace}/${id}`);
        }
        // Not below version 3, or under another key: never listed.
        puts.push(object(namespace, 'current', 'k', 3));
        puts.push(object(namespace, 'newer', 'k', 5));
        puts.push(object(namespace, 'other-key', 'other', 1));
      }
      await Promise.all(puts.map((p) => objects.put(p)));
      const byteOrder = (a: string, b: string): number => {
        const [an, ai] = a.split('/') as [string, string];
        const [bn, bi] = b.split('/') as [string, string];
        return (
          Buffer.compare(Buffer.from(an), Buffer.from(bn)) || Buffer.compare(Buffer.from(ai), Buffer.from(bi))
        );
      };
      wanted.sort(byteOrder);
      assert.equal(wanted[0], 'Zulu/ID-3');
      assert.deepEqual(wanted.slice(-2), ['é/\u{e000}', 'é/😀']);

      const all = await objects.listWrappedBelow('k', 3);
      assert.deepEqual(keysOf(all), wanted);
      for (const o of all)
        assertStored(
          o,
          puts.find((p) => p.namespace === o.namespace && p.id === o.id)!,
        );

      for (const limit of [1, 3, 4, 7]) {
        const pages: string[][] = [];
        let cursor: { namespace: string; id: string } | undefined;
        for (;;) {
          const page = await objects.listWrappedBelow('k', 3, { after: cursor, limit });
          if (page.length === 0) break;
          assert.ok(page.length <= limit);
          pages.push(keysOf(page));
          const last = page[page.length - 1]!;
          cursor = { namespace: last.namespace, id: last.id };
        }
        assert.deepEqual(pages.flat(), wanted, `pages of ${limit}`);
        assert.equal(pages.length, Math.ceil(wanted.length / limit));
      }
      // `after` need not name a stored object; the listing is strictly after it.
      assert.deepEqual(
        keysOf(await objects.listWrappedBelow('k', 3, { after: { namespace: 'alpha', id: 'id-10' } })),
        [...wanted.filter((key) => byteOrder(key, 'alpha/id-10') > 0)],
      );
      assert.deepEqual(
        keysOf(
          await objects.listWrappedBelow('k', 3, { after: { namespace: 'alpha', id: 'id-0' }, limit: 2 }),
        ),
        ['alpha/id-1', 'alpha/id-10'],
      );
      assert.deepEqual(
        keysOf(await objects.listWrappedBelow('k', 3, { after: { namespace: 'delta', id: 'z' }, limit: 1 })),
        ['gamma/ID-3'],
      );
      assert.deepEqual(await objects.listWrappedBelow('k', 3, { after: { namespace: 'é', id: '😀' } }), []);
      // Limits are clamped, never passed through (a negative LIMIT means "all" to SQLite).
      assert.deepEqual(await objects.listWrappedBelow('k', 3, { limit: 0 }), []);
      assert.deepEqual(await objects.listWrappedBelow('k', 3, { limit: -1 }), []);
      assert.equal((await objects.listWrappedBelow('k', 3, { limit: 2.9 })).length, 2);
      assert.equal((await objects.listWrappedBelow('k', 3, { limit: Number.NaN })).length, wanted.length);
    });

    it('listWrappedBelow filters by key name and version', async () => {
      const objects = await fresh();
      await objects.put(object('ns', 'v1', 'k', 1));
      await objects.put(object('ns', 'v2', 'k', 2));
      await objects.put(object('ns', 'v3', 'k', 3));
      await objects.put(object('ns', 'v9', 'k', 9));
      await objects.put(object('ns', 'other-v1', 'k2', 1));
      await objects.put(object('ns', 'prefix-v1', 'k-', 1));
      await objects.put(object('ns', 'case-v1', 'K', 1));
      const below = async (keyName: string, version: number): Promise<string[]> =>
        (await objects.listWrappedBelow(keyName, version)).map((o) => o.id);
      assert.deepEqual(await below('k', 1), []);
      assert.deepEqual(await below('k', 2), ['v1']);
      assert.deepEqual(await below('k', 3), ['v1', 'v2']);
      assert.deepEqual(await below('k', 9), ['v1', 'v2', 'v3']);
      assert.deepEqual(await below('k', 10), ['v1', 'v2', 'v3', 'v9']);
      assert.deepEqual(await below('k', Number.MAX_SAFE_INTEGER), ['v1', 'v2', 'v3', 'v9']);
      assert.deepEqual(await below('k2', 2), ['other-v1']);
      assert.deepEqual(await below('K', 2), ['case-v1']);
      assert.deepEqual(await below('unknown', 100), []);
      for (const o of await objects.listWrappedBelow('k', 10)) assert.equal(o.keyName, 'k');
    });

    it('listWrappedBelow returns 100 by default and at most 1000', async () => {
      const objects = await fresh();
      const small = Buffer.from([1, 0, 2]);
      for (let batch = 0; batch < 11; batch++) {
        await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            objects.put({
              namespace: `ns-${batch % 3}`,
              id: `id-${batch * 100 + i}`,
              keyName: 'k',
              keyVersion: 1 + (i % 3),
              envelope: small,
            }),
          ),
        );
      }
      assert.equal((await objects.listWrappedBelow('k', 4)).length, 100);
      assert.equal((await objects.listWrappedBelow('k', 4, {})).length, 100);
      assert.equal((await objects.listWrappedBelow('k', 4, { limit: 5000 })).length, 1000);
      assert.equal((await objects.listWrappedBelow('k', 4, { limit: 1000 })).length, 1000);
      assert.equal((await objects.listWrappedBelow('k', 4, { limit: 999 })).length, 999);
      assert.deepEqual(await objects.countByVersion('k'), { 1: 374, 2: 363, 3: 363 });
    });

    it('replaceIfUnchanged replaces only while the envelope is unchanged', async () => {
      const objects = await fresh();
      const original = object('pseudonyms', 'p', 'pseudonym-vault', 1);
      await objects.put(original);
      const created = assertStored(await objects.get('pseudonyms', 'p'), original);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const rewrapped = envelope('pseudonym-vault', 3, 80);
      // A copy of the bytes, not the same Buffer: the comparison is by content.
      assert.equal(
        await objects.replaceIfUnchanged('pseudonyms', 'p', Buffer.from(original.envelope), {
          keyVersion: 3,
          envelope: rewrapped,
        }),
        true,
      );
      const after = assertStored(await objects.get('pseudonyms', 'p'), {
        ...original,
        keyVersion: 3,
        envelope: rewrapped,
      });
      assert.equal(after.keyName, 'pseudonym-vault', 'the key name stays');
      assert.equal(after.createdAt, created.createdAt);
      assert.ok(after.updatedAt > created.updatedAt);

      // Every stale or near-miss expectation is refused and changes nothing.
      const refused = [
        original.envelope,
        rewrapped.subarray(0, rewrapped.length - 1),
        Buffer.concat([rewrapped, Buffer.alloc(1)]),
        // One byte changed (a fixed value would equal the random byte one time in 256).
        Buffer.from(rewrapped).fill(rewrapped[40]! ^ 1, 40, 41),
      ];
      for (const expected of refused) {
        assert.equal(
          await objects.replaceIfUnchanged('pseudonyms', 'p', expected, {
            keyVersion: 4,
            envelope: envelope(),
          }),
          false,
        );
      }
      assert.ok((await objects.get('pseudonyms', 'p'))!.envelope.equals(rewrapped));
      assert.equal((await objects.get('pseudonyms', 'p'))!.keyVersion, 3);
      // A missing object, or one in another namespace, is never created.
      assert.equal(
        await objects.replaceIfUnchanged('pseudonyms', 'missing', rewrapped, {
          keyVersion: 4,
          envelope: envelope(),
        }),
        false,
      );
      assert.equal(
        await objects.replaceIfUnchanged('elsewhere', 'p', rewrapped, {
          keyVersion: 4,
          envelope: envelope(),
        }),
        false,
      );
      assert.equal(await objects.get('pseudonyms', 'missing'), undefined);
      assert.equal(await objects.get('elsewhere', 'p'), undefined);
      assert.deepEqual(await objects.countByVersion('pseudonym-vault'), { 3: 1 });
    });

    it('replaceIfUnchanged compares 1 MB envelopes exactly', async () => {
      const objects = await fresh();
      const big = envelope('k', 1, 1024 * 1024);
      await objects.put({ namespace: 'n', id: 'big', keyName: 'k', keyVersion: 1, envelope: big });
      const almost = Buffer.from(big);
      almost[almost.length - 1] = almost[almost.length - 1]! ^ 1;
      const next = envelope('k', 2, 1024 * 1024);
      assert.equal(
        await objects.replaceIfUnchanged('n', 'big', almost, { keyVersion: 2, envelope: next }),
        false,
      );
      assert.equal(
        await objects.replaceIfUnchanged('n', 'big', big, { keyVersion: 2, envelope: next }),
        true,
      );
      assert.ok((await objects.get('n', 'big'))!.envelope.equals(next));
    });

    it('of concurrent swaps from the same envelope exactly one wins', async () => {
      const objects = await fresh();
      const original = object('pseudonyms', 'race');
      await objects.put(original);
      const candidates = Array.from({ length: 8 }, (_, i) => envelope('pseudonym-vault', 2 + i));
      const results = await Promise.all(
        candidates.map((candidate, i) =>
          objects.replaceIfUnchanged('pseudonyms', 'race', original.envelope, {
            keyVersion: 2 + i,
            envelope: candidate,
          }),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
      const winner = results.indexOf(true);
      const stored = await objects.get('pseudonyms', 'race');
      assert.equal(stored?.keyVersion, 2 + winner);
      assert.ok(stored?.envelope.equals(candidates[winner]!));
    });

    it('a re-wrap job moves everything to the new version without overwriting a concurrent writer', async () => {
      const objects = await fresh();
      for (let i = 0; i < 25; i++) {
        await objects.put(object(`ns-${i % 3}`, `id-${i}`, 'vault', 1 + (i % 2)));
      }
      await objects.put(object('ns-0', 'current', 'vault', 3));
      assert.deepEqual(await objects.countByVersion('vault'), { 1: 13, 2: 12, 3: 1 });
      let cursor: { namespace: string; id: string } | undefined;
      let interfered = false;
      const skipped: string[] = [];
      for (;;) {
        const page = await objects.listWrappedBelow('vault', 3, { after: cursor, limit: 4 });
        if (page.length === 0) break;
        for (const o of page) {
          if (!interfered) {
            // A writer replaces this object between the job's read and its swap.
            interfered = true;
            await objects.put(object(o.namespace, o.id, 'vault', 3));
          }
          const next = envelope('vault', 3);
          if (
            !(await objects.replaceIfUnchanged(o.namespace, o.id, o.envelope, {
              keyVersion: 3,
              envelope: next,
            }))
          ) {
            skipped.push(`${o.namespace}/${o.id}`);
          }
        }
        const last = page[page.length - 1]!;
        cursor = { namespace: last.namespace, id: last.id };
      }
      assert.deepEqual(skipped, ['ns-0/id-0']);
      assert.deepEqual(await objects.countByVersion('vault'), { 3: 26 });
      assert.deepEqual(await objects.listWrappedBelow('vault', 3), []);
    });

    it('countByVersion counts what each version of a key wraps', async () => {
      const objects = await fresh();
      assert.deepEqual(await objects.countByVersion('k'), {});
      for (let i = 0; i < 10; i++) await objects.put(object(`ns-${i % 2}`, `a-${i}`, 'k', 1));
      await objects.put(object('ns', 'b-1', 'k', 3));
      await objects.put(object('ns', 'b-2', 'k', 3));
      await objects.put(object('ns', 'c-1', 'other', 1));
      const counts = await objects.countByVersion('k');
      assert.deepEqual(counts, { 1: 10, 3: 2 });
      assert.deepEqual(Object.keys(counts), ['1', '3']);
      for (const n of Object.values(counts)) assert.equal(typeof n, 'number');
      assert.deepEqual(await objects.countByVersion('other'), { 1: 1 });
      await objects.delete('ns-0', 'a-0');
      await objects.replaceIfUnchanged('ns-1', 'a-1', (await objects.get('ns-1', 'a-1'))!.envelope, {
        keyVersion: 3,
        envelope: envelope('k', 3),
      });
      assert.deepEqual(await objects.countByVersion('k'), { 1: 8, 3: 3 });
    });

    it('rejects invalid input with errors that name the argument, never its value', async () => {
      const objects = await fresh();
      const good = object('ns', 'id');
      const secret = 'secret-pseudonym-'.padEnd(300, 'x');
      const rejects = async (promise: Promise<unknown>, pattern: RegExp): Promise<void> => {
        await assert.rejects(promise, (err: unknown) => {
          assert.ok(err instanceof TypeError, `TypeError, not ${String(err)}`);
          assert.match(err.message, /^encrypted objects: /);
          assert.match(err.message, pattern);
          assert.ok(!err.message.includes('secret-pseudonym'), 'the value leaked into the message');
          return true;
        });
      };
      await rejects(objects.put({ ...good, namespace: '' }), /namespace must not be empty/);
      await rejects(objects.put({ ...good, id: secret }), /id must be at most 256 characters \(it has 300\)/);
      await rejects(objects.put({ ...good, keyName: 'k'.repeat(257) }), /keyName must be at most 256/);
      await rejects(objects.put({ ...good, id: 42 as unknown as string }), /id must be a string, not number/);
      await rejects(
        objects.put({ ...good, namespace: undefined as unknown as string }),
        /namespace must be a string/,
      );
      await rejects(objects.put({ ...good, id: 'a\u0000b' }), /id must not contain NUL/);
      await rejects(objects.put({ ...good, id: 'lone \ud800' }), /id must be well-formed Unicode/);
      for (const keyVersion of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
        await rejects(
          objects.put({ ...good, keyVersion }),
          new RegExp(`keyVersion must be a positive integer, not ${String(keyVersion)}$`),
        );
      }
      await rejects(
        objects.put({ ...good, keyVersion: '1' as unknown as number }),
        /keyVersion must be a positive/,
      );
      await rejects(objects.put({ ...good, envelope: Buffer.alloc(0) }), /envelope must not be empty/);
      await rejects(
        objects.put({ ...good, envelope: 'text' as unknown as Buffer }),
        /envelope must be a Buffer/,
      );
      await rejects(objects.put(null as unknown as PutInput), /must be an object/);
      await rejects(objects.get('', 'id'), /namespace must not be empty/);
      await rejects(objects.get('ns', secret), /id must be at most 256/);
      await rejects(objects.delete('ns', ''), /id must not be empty/);
      await rejects(objects.listWrappedBelow('', 2), /keyName must not be empty/);
      await rejects(objects.listWrappedBelow('k', 0), /belowVersion must be a positive integer/);
      await rejects(objects.listWrappedBelow('k', 2.5), /belowVersion must be a positive integer/);
      await rejects(
        objects.listWrappedBelow('k', 2, { after: { namespace: 'ns', id: '' } }),
        /after\.id must not/,
      );
      await rejects(
        objects.listWrappedBelow('k', 2, { after: null as unknown as { namespace: string; id: string } }),
        /after must be an object/,
      );
      await rejects(
        objects.replaceIfUnchanged('ns', 'id', Buffer.alloc(0), { keyVersion: 2, envelope: envelope() }),
        /expected must not be empty/,
      );
      await rejects(
        objects.replaceIfUnchanged('ns', 'id', envelope(), { keyVersion: 0, envelope: envelope() }),
        /next\.keyVersion must be a positive integer/,
      );
      await rejects(
        objects.replaceIfUnchanged('ns', 'id', envelope(), { keyVersion: 2, envelope: Buffer.alloc(0) }),
        /next\.envelope must not be empty/,
      );
      await rejects(objects.countByVersion(''), /keyName must not be empty/);
      // Nothing was written by any of them.
      assert.deepEqual(await objects.listWrappedBelow('pseudonym-vault', 100), []);
      assert.deepEqual(await objects.countByVersion('pseudonym-vault'), {});
    });

    it('rejects every call after close', async () => {
      const store = await spaces.fresh();
      await store.objects.put(object('ns', 'id'));
      await store.close();
      await assert.rejects(store.objects.put(object('ns', 'id2')));
      await assert.rejects(store.objects.get('ns', 'id'));
      await assert.rejects(store.objects.listWrappedBelow('pseudonym-vault', 2));
      await assert.rejects(store.objects.countByVersion('pseudonym-vault'));
    });

    if (traits.durable) {
      it('objects survive close and reopen', async () => {
        const first = await open('durable');
        await first.migrate();
        const written = [
          object('pseudonyms', 'a', 'pseudonym-vault', 1),
          { ...object('payloads', 'b', 'audit', 2), envelope: envelope('audit', 2, 256 * 1024) },
        ];
        for (const o of written) await first.objects.put(o);
        assert.equal(await first.objects.delete('pseudonyms', 'a'), true);
        await first.objects.put(written[0]!);
        const rewrapped = envelope('audit', 3);
        assert.ok(
          await first.objects.replaceIfUnchanged('payloads', 'b', written[1]!.envelope, {
            keyVersion: 3,
            envelope: rewrapped,
          }),
        );
        await first.close();
        const second = await open('durable');
        await second.migrate();
        assertStored(await second.objects.get('pseudonyms', 'a'), written[0]!);
        assertStored(await second.objects.get('payloads', 'b'), {
          ...written[1]!,
          keyVersion: 3,
          envelope: rewrapped,
        });
        assert.deepEqual(await second.objects.countByVersion('audit'), { 3: 1 });
      });
    }

    if (traits.durable) {
      it('migrating a schema-version-1 database adds the objects table and moves the audit log into the ledger', async () => {
        assert.ok(fixture.createVersion1 && fixture.sql, 'durable fixtures can create a version 1 database');
        const entries = [auditEntry(), auditEntry()];
        await fixture.createVersion1('v1', entries);
        const store = await open('v1');
        await store.migrate();
        assert.deepEqual(await fixture.sql('v1', 'select version from schema_migrations order by version'), [
          { version: 1 },
          { version: 2 },
          { version: 3 },
          { version: 4 },
          { version: 5 },
        ]);
        const records = await store.audit.list();
        assert.deepEqual(
          records.map((record) => record.entry),
          entries,
        );
        assert.deepEqual(
          records.map((record) => record.seq),
          [1, 2],
        );
        // Both halves work after the upgrade, and a second migrate changes nothing.
        const appended = await store.audit.append(auditEntry());
        assert.equal(appended.seq, 3);
        const o = object('pseudonyms', 'after-upgrade');
        await store.objects.put(o);
        assertStored(await store.objects.get(o.namespace, o.id), o);
        await store.migrate();
        assert.equal(await store.audit.count(), 3);
        assert.deepEqual(await store.objects.countByVersion('pseudonym-vault'), { 1: 1 });
      });
    }
  });
}

encryptedObjectsContract('sqlite file', { durable: true }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ztgate-objects-'));
  const path = (space: string): string => join(dir, `${space}.db`);
  return {
    open: async (space) => new SqliteStore({ path: path(space) }),
    createVersion1: async (space, entries) => {
      const db = new Database(path(space));
      try {
        db.pragma('journal_mode = WAL');
        db.exec(`
          create table schema_migrations (version integer primary key, applied_at text not null);
          create table audit_log (
            seq integer primary key autoincrement,
            request_id text not null,
            principal_id text,
            phase text not null,
            stored_at text not null,
            entry text not null
          );
          create index audit_log_request_id on audit_log (request_id);
          create index audit_log_principal_id on audit_log (principal_id);
          insert into schema_migrations (version, applied_at) values (1, '2025-01-01T00:00:00.000Z');
        `);
        const insert = db.prepare(
          'insert into audit_log (request_id, principal_id, phase, stored_at, entry) values (?, ?, ?, ?, ?)',
        );
        for (const e of entries) {
          insert.run(e.requestId, e.principalId, e.phase, new Date().toISOString(), JSON.stringify(e));
        }
      } finally {
        db.close();
      }
    },
    sql: async (space, text) => {
      const db = new Database(path(space));
      try {
        const statement = db.prepare(text);
        return statement.reader ? statement.all() : (statement.run(), []);
      } finally {
        db.close();
      }
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

encryptedObjectsContract('sqlite :memory:', { durable: false }, async () => ({
  open: async () => new SqliteStore({ path: ':memory:' }),
  cleanup: async () => undefined,
}));

encryptedObjectsContract('postgres', { durable: true }, async () => {
  const spaces = await pgSpaces();
  return {
    open: spaces.open,
    createVersion1: async (space, entries) => {
      const schema = spaces.schemaOf(space);
      await spaces.admin.query('begin');
      try {
        await spaces.admin.query(`create schema ${schema}`);
        await spaces.admin.query(`set local search_path = ${schema}`);
        await spaces.admin.query(`
          create table schema_migrations (version integer primary key, applied_at text not null);
          create table audit_log (
            seq bigint generated always as identity primary key,
            request_id text not null,
            principal_id text,
            phase text not null,
            stored_at text not null,
            entry text not null
          );
          create index audit_log_request_id on audit_log (request_id);
          create index audit_log_principal_id on audit_log (principal_id);
          insert into schema_migrations (version, applied_at) values (1, '2025-01-01T00:00:00.000Z');
        `);
        for (const e of entries) {
          await spaces.admin.query(
            'insert into audit_log (request_id, principal_id, phase, stored_at, entry) values ($1, $2, $3, $4, $5)',
            [e.requestId, e.principalId, e.phase, new Date().toISOString(), JSON.stringify(e)],
          );
        }
        await spaces.admin.query('commit');
      } catch (err) {
        await spaces.admin.query('rollback');
        throw err;
      }
    },
    sql: spaces.sql,
    cleanup: spaces.cleanup,
  };
});

describe('encrypted objects: schema details', () => {
  it('PostgreSQL indexes (key_name, key_version, namespace, id) and orders names bytewise', async () => {
    const schema = `ztgate_test_${randomBytes(4).toString('hex')}_schema`;
    const store = new PostgresStore({ url: PG_URL, schema, poolSize: 1 });
    const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
    await admin.connect();
    try {
      await store.migrate();
      const { rows } = await admin.query<{ indexdef: string }>(
        "select indexdef from pg_indexes where schemaname = $1 and indexname = 'encrypted_objects_key'",
        [schema],
      );
      assert.match(rows[0]?.indexdef ?? '', /\(key_name, key_version, namespace, id\)/);
      const columns = await admin.query<{
        column_name: string;
        data_type: string;
        collation_name: string | null;
      }>(
        `select column_name, data_type, collation_name from information_schema.columns
         where table_schema = $1 and table_name = 'encrypted_objects' order by ordinal_position`,
        [schema],
      );
      const byName = new Map(columns.rows.map((row) => [row.column_name, row]));
      assert.equal(byName.get('envelope')?.data_type, 'bytea');
      for (const column of ['namespace', 'id', 'key_name'])
        assert.equal(byName.get(column)?.collation_name, 'C');
    } finally {
      await store.close();
      await admin.query(`drop schema if exists ${schema} cascade`).finally(() => admin.end());
    }
  });

  it('SQLite records both migrations', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztgate-objects-'));
    try {
      const store = new SqliteStore({ path: join(dir, 'o.db') });
      await store.migrate();
      await store.objects.put(object('ns', 'id'));
      await store.close();
      const db = new Database(join(dir, 'o.db'), { readonly: true });
      try {
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
        assert.deepEqual(db.prepare('select version from schema_migrations order by version').all(), [
          { version: 1 },
          { version: 2 },
          { version: 3 },
          { version: 4 },
          { version: 5 },
        ]);
        assert.deepEqual(db.prepare('select namespace, id, key_version from encrypted_objects').all(), [
          { namespace: 'ns', id: 'id', key_version: 1 },
        ]);
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
