import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { isKeyError } from '../../../src/keys/errors.js';
import { parseEnvelope, serializeEnvelope } from '../../../src/keys/envelope-format.js';
import { KeyManager } from '../../../src/keys/key-manager.js';
import { createLocalProvider } from '../../../src/keys/providers/local.js';

const context = fc.record({ tenant: fc.string(), recordId: fc.string(), purpose: fc.string() });

describe('envelope properties', () => {
  let dir: string;
  let keys: KeyManager;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ztgate-envelope-prop-'));
    keys = new KeyManager({
      provider: await createLocalProvider({ dir, env: {} }),
      cache: { maxAgeMs: 60_000, maxUses: 1000, maxBytes: 1 << 24, maxEntries: 50 },
    });
    await keys.createKey('k', 'aes-256-gcm', 'test');
  });
  after(async () => {
    await keys.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('parses any bytes to either a header that re-serialises to the same bytes, or ciphertext_malformed', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (bytes, withMagic) => {
        const input = Buffer.from(bytes);
        if (withMagic && input.length >= 7) input.set([0x5a, 0x54, 0x45, 1, 1, 0], 0);
        let parts;
        try {
          parts = parseEnvelope(input);
        } catch (err) {
          assert.ok(isKeyError(err, 'ciphertext_malformed'), String(err));
          return;
        }
        assert.deepEqual(serializeEnvelope(parts), input);
      }),
      { numRuns: 2000 },
    );
  });

  it('decrypts what it encrypted under any context, and under no other', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2048 }),
        context,
        context,
        fc.boolean(),
        async (data, a, b, reuse) => {
          const envelope = await keys.encrypt('k', data, a, { reuseDataKey: reuse });
          assert.deepEqual(await keys.decrypt(envelope, a), Buffer.from(data));
          const same = a.tenant === b.tenant && a.recordId === b.recordId && a.purpose === b.purpose;
          if (same) return;
          await assert.rejects(keys.decrypt(envelope, b), (err: unknown) => {
            assert.ok(
              isKeyError(err, 'ciphertext_unauthentic') || isKeyError(err, 'unwrap_failed'),
              String(err),
            );
            return true;
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
