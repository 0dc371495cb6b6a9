import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLocalProvider } from '../../src/keys/providers/local.js';
import { LocalKeystore } from '../../src/keys/providers/local-keystore.js';
import { keyProviderContract, rejectsWith } from '../helpers/key-provider-contract.js';

const dirs: string[] = [];
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ztgate-keys-local-'));
  dirs.push(dir);
  return dir;
}
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

keyProviderContract('local', { open: async () => createLocalProvider({ dir: await freshDir(), env: {} }) });

describe('local key provider', () => {
  it('creates a 0600 master key file at first start and reopens the same keys', async () => {
    const dir = await freshDir();
    const first = await createLocalProvider({ dir, env: {} });
    assert.equal(first.masterKeyCreated, true);
    assert.equal((await stat(join(dir, 'master.key'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'keystore.json'))).mode & 0o777, 0o600);
    await first.createKey('kek', 'aes-256-gcm');
    const dataKey = randomBytes(32);
    const wrapped = await first.wrapKey('kek', dataKey, Buffer.from('a'));
    await first.close();
    const second = await createLocalProvider({ dir, env: {} });
    assert.equal(second.masterKeyCreated, false);
    assert.deepEqual(await second.unwrapKey(wrapped, Buffer.from('a')), dataKey);
    assert.match(second.description, /single node or development/);
    await second.close();
  });

  it('refuses to start when the master key file or the key store is readable by others', async () => {
    const dir = await freshDir();
    (await createLocalProvider({ dir, env: {} })).close();
    await chmod(join(dir, 'master.key'), 0o644);
    await rejectsWith(createLocalProvider({ dir, env: {} }), 'keystore_insecure');
    await chmod(join(dir, 'master.key'), 0o600);
    const p = await createLocalProvider({ dir, env: {} });
    await p.createKey('kek', 'aes-256-gcm');
    await p.close();
    await chmod(join(dir, 'keystore.json'), 0o640);
    await rejectsWith(createLocalProvider({ dir, env: {} }), 'keystore_insecure');
  });

  it('takes the master key from ZTGATE_MASTER_KEY; a wrong or malformed one is refused', async () => {
    const dir = await freshDir();
    const env = { ZTGATE_MASTER_KEY: randomBytes(32).toString('base64') };
    const p = await createLocalProvider({ dir, env });
    await p.createKey('kek', 'aes-256-gcm');
    await p.close();
    await assert.rejects(stat(join(dir, 'master.key')), { code: 'ENOENT' });
    const hex = { ZTGATE_MASTER_KEY: Buffer.from(env.ZTGATE_MASTER_KEY, 'base64').toString('hex') };
    await (await createLocalProvider({ dir, env: hex })).close();
    await rejectsWith(
      createLocalProvider({ dir, env: { ZTGATE_MASTER_KEY: randomBytes(32).toString('base64') } }),
      'master_key_invalid',
    );
    await rejectsWith(
      createLocalProvider({ dir, env: { ZTGATE_MASTER_KEY: 'short' } }),
      'master_key_invalid',
    );
  });

  it('detects a key store altered without the master key', async () => {
    const dir = await freshDir();
    const p = await createLocalProvider({ dir, env: {} });
    await p.createKey('kek', 'aes-256-gcm');
    await p.close();
    const file = join(dir, 'keystore.json');
    const sealed = JSON.parse(await readFile(file, 'utf8')) as { ciphertext: string };
    const body = Buffer.from(sealed.ciphertext, 'base64');
    body[0] = (body[0] ?? 0) ^ 1;
    await writeFile(file, JSON.stringify({ ...sealed, ciphertext: body.toString('base64') }), {
      mode: 0o600,
    });
    await rejectsWith(createLocalProvider({ dir, env: {} }), 'master_key_invalid');
    await writeFile(file, 'not json', { mode: 0o600 });
    await rejectsWith(createLocalProvider({ dir, env: {} }), 'keystore_corrupt');
  });

  it('deletes destroyed key material from the store, and sees changes made by another process', async () => {
    const dir = await freshDir();
    const env = { ZTGATE_MASTER_KEY: randomBytes(32).toString('base64') };
    const gateway = await createLocalProvider({ dir, env });
    const cli = await createLocalProvider({ dir, env });
    await cli.createKey('kek', 'aes-256-gcm');
    const wrapped = await gateway.wrapKey('kek', randomBytes(32), Buffer.from('x'));
    await cli.rotateKey('kek');
    assert.equal((await gateway.wrapKey('kek', randomBytes(32), Buffer.from('x'))).keyId.version, 2);
    await cli.destroyVersion({ name: 'kek', version: 1 });
    await rejectsWith(gateway.unwrapKey(wrapped, Buffer.from('x')), 'key_destroyed');
    const store = new LocalKeystore(join(dir, 'keystore.json'), Buffer.from(env.ZTGATE_MASTER_KEY, 'base64'));
    const { contents } = await store.read();
    const v1 = contents.keys.kek?.versions.find((v) => v.version === 1);
    assert.equal(v1?.state, 'destroyed');
    assert.equal(v1?.material, undefined);
    assert.ok(contents.keys.kek?.versions.find((v) => v.version === 2)?.material);
    await gateway.close();
    await cli.close();
    await rejectsWith(gateway.listKeys(), 'provider_closed');
  });

  it('serialises concurrent writers from several providers without losing a change', async () => {
    const dir = await freshDir();
    const env = { ZTGATE_MASTER_KEY: randomBytes(32).toString('base64') };
    const providers = await Promise.all([1, 2, 3].map(() => createLocalProvider({ dir, env })));
    await Promise.all(providers.map((p, i) => p.createKey(`k${i}`, 'ed25519')));
    await Promise.all(providers.map((p) => p.rotateKey('k0')));
    const info = await providers[0]!.describeKey('k0');
    assert.equal(info.primaryVersion, 4);
    assert.equal((await providers[2]!.listKeys()).length, 3);
    await Promise.all(providers.map((p) => p.close()));
  });
});
