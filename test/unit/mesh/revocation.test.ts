import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  InMemoryRevocationList,
  isMeshError,
  normalizeSerial,
  readRevocations,
  recordRevocation,
  watchRevocations,
} from '../../../src/mesh/index.js';
import { eventually } from '../../helpers/mesh.js';

describe('revocation', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ztgate-revoked-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('serials are compared in one form: upper case, no colons, no leading zeros', () => {
    assert.equal(normalizeSerial('00:0a:Bc'), 'ABC');
    assert.equal(normalizeSerial('000'), '0');
    assert.throws(() => normalizeSerial('xyz'));
    const list = new InMemoryRevocationList(['0a:bc']);
    assert.equal(list.isRevoked('ABC'), true);
    assert.equal(list.isRevoked('0ABC'), true);
    assert.equal(list.isRevoked('ABD'), false);
    assert.equal(list.isRevoked('not hex'), false);
  });

  it('records serials in a file once each; a missing file is an empty list', async () => {
    const path = join(dir, 'a', 'revoked.json');
    assert.deepEqual(await readRevocations(path), []);
    assert.equal(await recordRevocation(path, 'ab:cd', 'key lost'), true);
    assert.equal(await recordRevocation(path, 'ABCD'), false);
    const entries = await readRevocations(path);
    assert.deepEqual(
      entries.map((e) => [e.serial, e.reason]),
      [['ABCD', 'key lost']],
    );
    assert.match(await readFile(path, 'utf8'), /"version": 1/);
  });

  it('a malformed file is an error with a stable code', async () => {
    const path = join(dir, 'bad.json');
    for (const text of [
      '{',
      '{"version":2,"revoked":[]}',
      '{"version":1,"revoked":[{"serial":"zz","revokedAt":"x"}]}',
    ]) {
      await writeFile(path, text);
      await assert.rejects(readRevocations(path), (err) => isMeshError(err, 'revocation_list_invalid'));
    }
  });

  it('a watched file is reloaded when it changes; a broken file keeps the last good list', async () => {
    const path = join(dir, 'watched.json');
    const list = new InMemoryRevocationList();
    const errors: unknown[] = [];
    const stop = watchRevocations(path, list, { intervalMs: 50, onError: (err) => errors.push(err) });
    try {
      await recordRevocation(path, '01');
      await eventually(() => list.isRevoked('01'));
      await recordRevocation(path, '02');
      await eventually(() => list.isRevoked('02'));
      await writeFile(path, 'garbage');
      await eventually(() => errors.length === 1);
      assert.equal(list.isRevoked('01'), true, 'the last good list stays');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(errors.length, 1, 'reported once, not on every tick');
      await rm(path);
      await eventually(() => errors.length === 2);
      assert.equal(list.isRevoked('02'), true, 'a vanished file does not clear the list');
    } finally {
      stop();
    }
  });
});
