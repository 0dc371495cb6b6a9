import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isKeyError } from '../../../src/keys/errors.js';
import { dataKeyAad, parseEnvelope, payloadAad, envelopePrefix } from '../../../src/keys/envelope-format.js';
import { KeyManager } from '../../../src/keys/key-manager.js';
import { createLocalProvider } from '../../../src/keys/providers/local.js';
import { rejectsWith } from '../../helpers/key-provider-contract.js';

const CACHE_OFF = { maxAgeMs: 1000, maxUses: 1, maxBytes: 1, maxEntries: 0 };
const CONTEXT = { tenant: 'acme', recordId: 'rec-1', purpose: 'pseudonym' };

describe('envelope encryption', () => {
  let dir: string;
  let keys: KeyManager;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ztgate-envelope-'));
    keys = new KeyManager({ provider: await createLocalProvider({ dir, env: {} }), cache: CACHE_OFF });
    await keys.createKey('vault', 'aes-256-gcm', 'test');
  });
  after(async () => {
    await keys.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips, with a fresh data key and nonce per object and a readable header', async () => {
    const plaintext = Buffer.from('Alice Smith, 4111 1111 1111 1111');
    const a = await keys.encrypt('vault', plaintext, CONTEXT);
    const b = await keys.encrypt('vault', plaintext, CONTEXT);
    assert.deepEqual(await keys.decrypt(a, CONTEXT), plaintext);
    assert.notDeepEqual(a, b);
    const pa = parseEnvelope(a);
    const pb = parseEnvelope(b);
    assert.deepEqual(pa.keyId, { name: 'vault', version: 1 });
    assert.equal(a.subarray(0, 4).toString('latin1'), 'ZTE\u0001');
    assert.notDeepEqual(pa.wrappedKey, pb.wrappedKey, 'a fresh data key per object');
    assert.notDeepEqual(pa.nonce, pb.nonce);
    assert.ok(!a.includes(plaintext));
    assert.deepEqual(
      await keys.decrypt(await keys.encrypt('vault', Buffer.alloc(0), CONTEXT), CONTEXT),
      Buffer.alloc(0),
    );
  });

  it('binds each ciphertext to its tenant, record id and purpose', async () => {
    const envelope = await keys.encrypt('vault', Buffer.from('secret'), CONTEXT);
    for (const other of [
      { ...CONTEXT, tenant: 'globex' },
      { ...CONTEXT, recordId: 'rec-2' },
      { ...CONTEXT, purpose: 'audit-payload' },
    ]) {
      await assert.rejects(keys.decrypt(envelope, other), (err: unknown) => {
        // A different tenant or purpose fails at the data key; a different record at the payload.
        assert.ok(isKeyError(err, 'unwrap_failed') || isKeyError(err, 'ciphertext_unauthentic'), String(err));
        return true;
      });
    }
    await rejectsWith(keys.decrypt(envelope, { ...CONTEXT, recordId: 'rec-2' }), 'ciphertext_unauthentic');
  });

  it('encodes contexts without ambiguity', () => {
    const prefix = envelopePrefix();
    assert.notDeepEqual(
      payloadAad(prefix, { tenant: 'a', recordId: 'bc', purpose: 'p' }),
      payloadAad(prefix, { tenant: 'ab', recordId: 'c', purpose: 'p' }),
    );
    assert.notDeepEqual(
      dataKeyAad({ tenant: 'a|b', purpose: 'c' }),
      dataKeyAad({ tenant: 'a', purpose: 'b|c' }),
    );
  });

  it('rejects every truncation and every single-bit change, never returning wrong plaintext', async () => {
    const envelope = await keys.encrypt('vault', Buffer.from('pay me'), CONTEXT);
    for (let length = 0; length < envelope.length; length++) {
      await assert.rejects(keys.decrypt(envelope.subarray(0, length), CONTEXT), (err: unknown) => {
        assert.ok(isKeyError(err), String(err));
        assert.ok(
          ['ciphertext_malformed', 'unwrap_failed', 'ciphertext_unauthentic'].includes(err.code),
          err.code,
        );
        return true;
      });
    }
    await rejectsWith(keys.decrypt(envelope.subarray(0, 5), CONTEXT), 'ciphertext_malformed');
    for (let i = 0; i < envelope.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const changed = Buffer.from(envelope);
        changed[i] = (changed[i] as number) ^ bit;
        await assert.rejects(keys.decrypt(changed, CONTEXT), (err: unknown) => isKeyError(err), `byte ${i}`);
      }
    }
    const wrongMagic = Buffer.from(envelope);
    wrongMagic[0] = 0x41;
    await rejectsWith(keys.decrypt(wrongMagic, CONTEXT), 'ciphertext_malformed');
    const wrongVersion = Buffer.from(envelope);
    wrongVersion[3] = 2;
    await rejectsWith(keys.decrypt(wrongVersion, CONTEXT), 'ciphertext_malformed');
  });

  it('re-wraps under a new version without touching the payload', async () => {
    const envelope = await keys.encrypt('vault', Buffer.from('keep me'), CONTEXT);
    assert.equal(await keys.rewrap(envelope, CONTEXT), undefined, 'already under the primary');
    await keys.rotateKey('vault', 'test');
    const next = await keys.rewrap(envelope, CONTEXT);
    assert.ok(next);
    const before = parseEnvelope(envelope);
    const after = parseEnvelope(next);
    assert.equal(after.keyId.version, 2);
    assert.deepEqual(after.nonce, before.nonce);
    assert.deepEqual(after.sealed, before.sealed, 'payload ciphertext unchanged');
    assert.deepEqual(await keys.decrypt(next, CONTEXT), Buffer.from('keep me'));
  });
});
