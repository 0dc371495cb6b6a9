import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, resolveSecret } from '../../src/config/index.js';

describe('secret references', () => {
  let home: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'ztgate-secrets-'));
    await writeFile(join(home, 'key.txt'), 'sk-from-file-123\n', { mode: 0o600 });
  });
  after(() => rm(home, { recursive: true, force: true }));

  it('resolves env: and file: (relative to home, one trailing newline removed)', async () => {
    assert.equal(await resolveSecret('env:MY_KEY', 'k', home, { MY_KEY: 'sk-env-456' }), 'sk-env-456');
    assert.equal(await resolveSecret('file:key.txt', 'k', home, {}), 'sk-from-file-123');
    assert.equal(await resolveSecret(`file:${join(home, 'key.txt')}`, 'k', home, {}), 'sk-from-file-123');
  });

  it('stops the start with a message naming the key and the reference, never a value', async () => {
    const message = async (ref: string, env: Record<string, string> = {}) => {
      try {
        await resolveSecret(ref, 'upstreams.a.apiKey', home, env);
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.message;
      }
      return 'resolved';
    };
    assert.match(
      await message('env:MISSING'),
      /upstreams\.a\.apiKey: environment variable MISSING is not set/,
    );
    assert.match(await message('env:EMPTY', { EMPTY: '' }), /EMPTY is not set/);
    assert.match(await message('file:nope.txt'), /upstreams\.a\.apiKey: cannot read .*nope\.txt: ENOENT/);
    assert.match(await message('file:.'), /is not a file/);
    assert.match(await message('sk-raw-value'), /not a secret reference/);
    assert.doesNotMatch(await message('sk-raw-value'), /sk-raw-value/);
  });
});
