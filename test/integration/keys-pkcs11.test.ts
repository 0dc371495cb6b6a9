// The pkcs11 KeyProvider against a private SoftHSM2 (softhsm2-util and libsofthsm2 are required;
// these tests fail, never skip, without them).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import pkcs11js from 'pkcs11js';
import type { Handle, PKCS11 } from 'pkcs11js';
import { isKeyError, KeyError } from '../../src/keys/errors.js';
import { createPkcs11Provider, type Pkcs11ProviderOptions } from '../../src/keys/providers/pkcs11.js';
import { SessionPool, type SessionFactory } from '../../src/keys/providers/pkcs11-sessions.js';
import {
  acquireModule,
  closeUserSession,
  findToken,
  openUserSession,
  releaseModule,
  slotIdOf,
} from '../../src/keys/providers/pkcs11-module.js';
import { keyProviderContract, rejectsWith } from '../helpers/key-provider-contract.js';
import { createSoftHsm, type SoftHsm } from '../helpers/softhsm.js';

// SoftHSM sees only the tokens that exist when the module is first initialised: create them all now.
const contractHsm = createSoftHsm('contract');
const hsm = createSoftHsm('provider');
const pinHsm = createSoftHsm('pin-check');
const poolHsm = createSoftHsm('pool');
const resetHsm = createSoftHsm('reset');

after(() => {
  for (const token of [contractHsm, hsm, pinHsm, poolHsm, resetHsm]) token.cleanup();
});

let runs = 0;
keyProviderContract('pkcs11 (SoftHSM2)', {
  // A fresh label prefix per case: an empty key space on the shared token.
  open: () =>
    createPkcs11Provider({
      modulePath: contractHsm.modulePath,
      tokenLabel: contractHsm.tokenLabel,
      pin: contractHsm.pin,
      labelPrefix: `contract${++runs}`,
    }),
});

function options(token: SoftHsm, labelPrefix: string): Pkcs11ProviderOptions {
  return { modulePath: token.modulePath, tokenLabel: token.tokenLabel, pin: token.pin, labelPrefix };
}

/** A raw pkcs11js session on the token, to look at what the provider left there. */
async function withRawSession(
  token: SoftHsm,
  body: (lib: PKCS11, session: Handle) => Promise<void>,
): Promise<void> {
  const module = acquireModule(token.modulePath);
  const { slot } = findToken(module, { tokenLabel: token.tokenLabel });
  const session = openUserSession(module, slot, token.pin);
  try {
    await body(module.lib, session);
  } finally {
    closeUserSession(module, slot, session);
    releaseModule(module);
  }
}

function find(lib: PKCS11, session: Handle, label: string): Handle[] {
  lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: label }]);
  try {
    return lib.C_FindObjects(session, 100);
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

function booleanAttributes(lib: PKCS11, session: Handle, handle: Handle, types: number[]): boolean[] {
  return lib
    .C_GetAttributeValue(
      session,
      handle,
      types.map((type) => ({ type })),
    )
    .map((a) => a.value[0] === 1);
}

const AAD = Buffer.from('tenant=acme;purpose=pkcs11');

describe('pkcs11 provider on SoftHSM2', () => {
  it('keeps keys in the token as sensitive, non-extractable token objects', async () => {
    const p = await createPkcs11Provider(options(hsm, 'attrs'));
    try {
      await p.createKey('kek', 'aes-256-gcm');
      await p.createKey('p256', 'ecdsa-p256');
      await p.createKey('ed', 'ed25519');
      assert.match(p.description, /^pkcs11 HSM \(provider\): keys generated in the token, non-extractable$/);
      await withRawSession(hsm, async (lib, session) => {
        const secrets = [
          ...find(lib, session, 'attrs:kek@1'),
          ...['attrs:p256@1', 'attrs:ed@1'].map((label) => {
            lib.C_FindObjectsInit(session, [
              { type: pkcs11js.CKA_LABEL, value: label },
              { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
            ]);
            const found = lib.C_FindObjects(session, 10);
            lib.C_FindObjectsFinal(session);
            assert.equal(found.length, 1, label);
            return found[0] as Handle;
          }),
        ];
        assert.equal(secrets.length, 3);
        for (const handle of secrets) {
          const [token, priv, sensitive, extractable, alwaysSensitive, neverExtractable] = booleanAttributes(
            lib,
            session,
            handle,
            [
              pkcs11js.CKA_TOKEN,
              pkcs11js.CKA_PRIVATE,
              pkcs11js.CKA_SENSITIVE,
              pkcs11js.CKA_EXTRACTABLE,
              pkcs11js.CKA_ALWAYS_SENSITIVE,
              pkcs11js.CKA_NEVER_EXTRACTABLE,
            ],
          );
          assert.deepEqual(
            { token, priv, sensitive, extractable, alwaysSensitive, neverExtractable },
            {
              token: true,
              priv: true,
              sensitive: true,
              extractable: false,
              alwaysSensitive: true,
              neverExtractable: true,
            },
          );
          assert.throws(
            () => lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_VALUE }]),
            /CKR_ATTRIBUTE_SENSITIVE/,
          );
        }
        // The metadata is a private token object of the token too.
        const [meta] = find(lib, session, 'attrs:meta:kek');
        assert.ok(meta);
        assert.deepEqual(booleanAttributes(lib, session, meta, [pkcs11js.CKA_TOKEN, pkcs11js.CKA_PRIVATE]), [
          true,
          true,
        ]);
        const [value] = lib.C_GetAttributeValue(session, meta, [{ type: pkcs11js.CKA_VALUE }]);
        assert.equal(JSON.parse(value?.value.toString() ?? '{}').algorithm, 'aes-256-gcm');
      });
    } finally {
      await p.close();
    }
  });

  it('destroys the key objects in the token, not just their metadata', async () => {
    const p = await createPkcs11Provider(options(hsm, 'destroy'));
    try {
      await p.createKey('kek', 'aes-256-gcm');
      await p.createKey('signer', 'ecdsa-p384');
      await p.rotateKey('kek');
      await p.rotateKey('signer');
      await withRawSession(hsm, async (lib, session) => {
        assert.equal(find(lib, session, 'destroy:kek@1').length, 1);
        assert.equal(find(lib, session, 'destroy:signer@1').length, 2, 'public and private key');
      });
      await p.destroyVersion({ name: 'kek', version: 1 });
      await p.destroyVersion({ name: 'signer', version: 1 });
      await withRawSession(hsm, async (lib, session) => {
        assert.equal(find(lib, session, 'destroy:kek@1').length, 0);
        assert.equal(find(lib, session, 'destroy:signer@1').length, 0);
        assert.equal(find(lib, session, 'destroy:kek@2').length, 1);
        assert.equal(find(lib, session, 'destroy:signer@2').length, 2);
        assert.equal(find(lib, session, 'destroy:meta:kek').length, 1, 'one metadata object after updates');
      });
      const info = await p.describeKey('signer');
      assert.equal(info.versions[0]?.state, 'destroyed');
      assert.ok(!Number.isNaN(Date.parse(info.versions[0]?.destroyedAt ?? '')));
    } finally {
      await p.close();
    }
  });

  it('shares key state between providers on the same token', async () => {
    const a = await createPkcs11Provider(options(hsm, 'shared'));
    const b = await createPkcs11Provider(options(hsm, 'shared'));
    try {
      await a.createKey('kek', 'aes-256-gcm');
      const dataKey = randomBytes(32);
      const v1 = await a.wrapKey('kek', dataKey, AAD);
      await b.rotateKey('kek');
      assert.equal((await a.describeKey('kek')).primaryVersion, 2);
      assert.equal((await a.wrapKey('kek', dataKey, AAD)).keyId.version, 2);
      assert.deepEqual(await b.unwrapKey(v1, AAD), dataKey);
      await b.disableVersion({ name: 'kek', version: 1 });
      await rejectsWith(a.unwrapKey(v1, AAD), 'key_disabled');
      await a.enableVersion({ name: 'kek', version: 1 });
      assert.deepEqual(await b.unwrapKey(v1, AAD), dataKey);
      await b.destroyVersion({ name: 'kek', version: 1 });
      await rejectsWith(a.unwrapKey(v1, AAD), 'key_destroyed');
      // Closing one provider does not log the other out of the token.
      await b.close();
      assert.deepEqual(
        (await a.listKeys()).map((k) => k.name),
        ['kek'],
      );
      await a.ping();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('sees a destroy made by another process on its next operation', async () => {
    const p = await createPkcs11Provider(options(hsm, 'xproc'));
    try {
      await p.createKey('kek', 'aes-256-gcm');
      const dataKey = randomBytes(32);
      const v1 = await p.wrapKey('kek', dataKey, AAD);
      const moduleUrl = pathToFileURL('src/keys/providers/pkcs11.ts').href;
      const script = [
        `const { createPkcs11Provider } = await import(${JSON.stringify(moduleUrl)});`,
        `const p = await createPkcs11Provider(${JSON.stringify(options(hsm, 'xproc'))});`,
        `await p.rotateKey('kek');`,
        `await p.destroyVersion({ name: 'kek', version: 1 });`,
        `await p.close();`,
      ].join('\n');
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        stdio: 'pipe',
      });
      await rejectsWith(p.unwrapKey(v1, AAD), 'key_destroyed');
      assert.equal((await p.wrapKey('kek', dataKey, AAD)).keyId.version, 2);
    } finally {
      await p.close();
    }
  });

  it('opens the token by slot id as well as by label', async () => {
    const module = acquireModule(hsm.modulePath);
    let slotId: number;
    try {
      slotId = Number(slotIdOf(findToken(module, { tokenLabel: hsm.tokenLabel }).slot));
    } finally {
      releaseModule(module);
    }
    const p = await createPkcs11Provider({
      modulePath: hsm.modulePath,
      slot: slotId,
      pin: hsm.pin,
      labelPrefix: 'slot',
    });
    try {
      assert.match(p.description, /\(provider\)/);
      await p.ping();
    } finally {
      await p.close();
    }
    await rejectsWith(
      createPkcs11Provider({ modulePath: hsm.modulePath, slot: 424242, pin: hsm.pin }),
      'hsm_token_absent',
    );
    await rejectsWith(createPkcs11Provider({ modulePath: hsm.modulePath, pin: hsm.pin }), 'invalid_argument');
  });

  it('maps a missing module, an unknown token and a refused PIN to stable codes', async () => {
    await rejectsWith(
      createPkcs11Provider({ ...options(hsm, 'x'), modulePath: '/nonexistent/libnope-pkcs11.so' }),
      'hsm_module_missing',
    );
    await rejectsWith(
      createPkcs11Provider({ ...options(hsm, 'x'), tokenLabel: 'no-such-token' }),
      'hsm_token_absent',
    );
    const wrongPin = `wrong-${randomBytes(6).toString('hex')}`;
    for (const token of [pinHsm, hsm]) {
      // pinHsm: nobody is logged in, the token checks the PIN. hsm: a provider is logged in below.
      const holder = token === hsm ? await createPkcs11Provider(options(hsm, 'holder')) : undefined;
      try {
        await assert.rejects(
          createPkcs11Provider({ ...options(token, 'x'), pin: wrongPin }),
          (err: unknown) => {
            assert.ok(isKeyError(err, 'hsm_pin_incorrect'), String(err));
            assert.ok(!err.message.includes(wrongPin) && !err.message.includes(token.pin), err.message);
            return true;
          },
        );
      } finally {
        await holder?.close();
      }
    }
    // The right PIN still works after the refusals.
    const p = await createPkcs11Provider(options(pinHsm, 'after'));
    await p.close();
  });

  it('refuses work after close and pings while open', async () => {
    const p = await createPkcs11Provider(options(hsm, 'closing'));
    await p.ping();
    await p.close();
    await p.close();
    await rejectsWith(p.ping(), 'provider_closed');
    await rejectsWith(p.listKeys(), 'provider_closed');
  });
});

type AsyncCall = 'C_EncryptAsync' | 'C_DecryptAsync' | 'C_SignAsync';

/** Counts the token's async calls (encrypt, decrypt, sign) in flight at once, on the shared module. */
function trackAsyncCalls(token: SoftHsm): { readonly peak: number; restore(): void } {
  const module = acquireModule(token.modulePath);
  const lib = module.lib;
  const names: readonly AsyncCall[] = ['C_EncryptAsync', 'C_DecryptAsync', 'C_SignAsync'];
  const originals = names.map((name) => [name, lib[name]] as const);
  let pending = 0;
  let peak = 0;
  for (const [name, original] of originals) {
    lib[name] = async (session: Handle, inData: Buffer, outData: Buffer): Promise<Buffer> => {
      pending += 1;
      peak = Math.max(peak, pending);
      try {
        return await original.call(lib, session, inData, outData);
      } finally {
        pending -= 1;
      }
    };
  }
  return {
    get peak() {
      return peak;
    },
    restore() {
      for (const [name, original] of originals) lib[name] = original;
      releaseModule(module);
    },
  };
}

describe('pkcs11 provider session pool', () => {
  it('runs many operations at once on several sessions, all correct', async () => {
    const p = await createPkcs11Provider({ ...options(poolHsm, 'par'), sessions: 4 });
    const tracker = trackAsyncCalls(poolHsm);
    try {
      assert.equal(p.pool.size, 4);
      await p.createKey('kek', 'aes-256-gcm');
      await p.createKey('signer', 'ecdsa-p256');
      const dataKeys = Array.from({ length: 200 }, () => randomBytes(32));
      const wrappedBefore = await Promise.all(dataKeys.slice(0, 20).map((k) => p.wrapKey('kek', k, AAD)));
      const results = await Promise.all(
        dataKeys.map(async (dataKey, i) => {
          const data = Buffer.from(`message ${i}`);
          switch (i % 3) {
            case 0:
              return { i, wrapped: await p.wrapKey('kek', dataKey, AAD) };
            case 1:
              return { i, unwrapped: await p.unwrapKey(wrappedBefore[i % 20]!, AAD) };
            default:
              return { i, data, signature: await p.sign('signer', data) };
          }
        }),
      );
      assert.equal(results.length, 200);
      assert.ok(p.pool.peakInUse > 1 && p.pool.peakInUse <= 4, `peak ${p.pool.peakInUse}`);
      assert.ok(tracker.peak > 1, `at most ${tracker.peak} token call(s) in flight at once`);
      assert.equal(p.pool.inUse, 0);
      // Check every result, in parallel as well.
      const checks = await Promise.all(
        results.map(async (r) => {
          if (r.wrapped) return (await p.unwrapKey(r.wrapped, AAD)).equals(dataKeys[r.i]!);
          if (r.unwrapped) return r.unwrapped.equals(dataKeys[r.i % 20]!);
          assert.ok(r.signature && r.data);
          assert.deepEqual(r.signature.keyId, { name: 'signer', version: 1 });
          return p.verify(r.signature.keyId, r.data, r.signature.signature);
        }),
      );
      assert.deepEqual(
        checks.map((ok, i) => (ok ? -1 : i)).filter((i) => i >= 0),
        [],
      );
    } finally {
      tracker.restore();
      await p.close();
    }
  });

  it('serialises concurrent rotations of one key: no version is lost', async () => {
    const p = await createPkcs11Provider({ ...options(poolHsm, 'rot'), sessions: 4 });
    try {
      await p.createKey('kek', 'aes-256-gcm');
      const dataKey = randomBytes(32);
      const [rotations, wraps] = await Promise.all([
        Promise.all(Array.from({ length: 20 }, () => p.rotateKey('kek'))),
        Promise.all(Array.from({ length: 10 }, () => p.wrapKey('kek', dataKey, AAD))),
      ]);
      assert.deepEqual(
        rotations.map((info) => info.primaryVersion).sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => i + 2),
      );
      const info = await p.describeKey('kek');
      assert.equal(info.primaryVersion, 21);
      assert.deepEqual(
        info.versions.map((v) => v.version),
        Array.from({ length: 21 }, (_, i) => i + 1),
      );
      assert.ok(info.versions.every((v) => v.state === 'active'));
      for (const wrapped of wraps) assert.deepEqual(await p.unwrapKey(wrapped, AAD), dataKey);
      await withRawSession(poolHsm, async (lib, session) => {
        assert.equal(find(lib, session, 'rot:meta:kek').length, 1, 'one metadata object');
        for (let v = 1; v <= 21; v += 1) assert.equal(find(lib, session, `rot:kek@${v}`).length, 1);
      });
    } finally {
      await p.close();
    }
  });

  it('works with one session and refuses a session count out of range', async () => {
    const p = await createPkcs11Provider({ ...options(poolHsm, 'one'), sessions: 1 });
    try {
      await p.createKey('kek', 'aes-256-gcm');
      const dataKeys = Array.from({ length: 20 }, () => randomBytes(32));
      const wrapped = await Promise.all(dataKeys.map((k) => p.wrapKey('kek', k, AAD)));
      const unwrapped = await Promise.all(wrapped.map((w) => p.unwrapKey(w, AAD)));
      assert.deepEqual(unwrapped, dataKeys);
      assert.equal(p.pool.peakInUse, 1);
    } finally {
      await p.close();
    }
    for (const sessions of [0, 65, 2.5, -1, Number.NaN]) {
      await rejectsWith(createPkcs11Provider({ ...options(poolHsm, 'bad'), sessions }), 'invalid_argument');
    }
  });

  it('waits for operations under way on close and refuses those that wait for a session', async () => {
    const p = await createPkcs11Provider({ ...options(poolHsm, 'drain'), sessions: 2 });
    await p.createKey('kek', 'aes-256-gcm');
    const dataKey = randomBytes(32);
    const running = [p.wrapKey('kek', dataKey, AAD), p.wrapKey('kek', dataKey, AAD)];
    const waiting = p.wrapKey('kek', dataKey, AAD);
    const closed = p.close();
    await rejectsWith(waiting, 'provider_closed');
    for (const wrapped of await Promise.all(running)) assert.equal(wrapped.keyId.version, 1);
    await closed;
    assert.equal(p.pool.inUse, 0);
    await rejectsWith(p.wrapKey('kek', dataKey, AAD), 'provider_closed');
    await p.close();
  });

  it('replaces sessions the token dropped, failing only the operations that hit them', async () => {
    const p = await createPkcs11Provider({ ...options(resetHsm, 'reset'), sessions: 2 });
    try {
      await p.createKey('kek', 'aes-256-gcm');
      const dataKey = randomBytes(32);
      const wrapped = await p.wrapKey('kek', dataKey, AAD);
      // A token reset: every session of this process on the token is closed, and the user logged out.
      const module = acquireModule(resetHsm.modulePath);
      try {
        module.lib.C_CloseAllSessions(findToken(module, { tokenLabel: resetHsm.tokenLabel }).slot);
      } finally {
        releaseModule(module);
      }
      // Each session fails once (no silent retry of a crypto operation), then is reopened and logged in.
      await rejectsWith(p.unwrapKey(wrapped, AAD), 'hsm_token_absent');
      await rejectsWith(p.unwrapKey(wrapped, AAD), 'hsm_token_absent');
      for (let i = 0; i < 4; i += 1) assert.deepEqual(await p.unwrapKey(wrapped, AAD), dataKey);
      assert.deepEqual(await Promise.all([p.unwrapKey(wrapped, AAD), p.unwrapKey(wrapped, AAD)]), [
        dataKey,
        dataKey,
      ]);
      await p.ping();
    } finally {
      await p.close();
    }
    // The login bookkeeping survived: the token checks PINs again, and the right one works.
    await rejectsWith(
      createPkcs11Provider({ ...options(resetHsm, 'x'), pin: 'wrong-pin-1234' }),
      'hsm_pin_incorrect',
    );
    const again = await createPkcs11Provider(options(resetHsm, 'reset'));
    try {
      assert.equal((await again.describeKey('kek')).primaryVersion, 1);
    } finally {
      await again.close();
    }
  });
});

describe('pkcs11 session pool (fake sessions)', () => {
  const removed = (): Error =>
    new pkcs11js.Pkcs11Error('CKR_DEVICE_REMOVED', pkcs11js.CKR_DEVICE_REMOVED, 'C_EncryptAsync');
  const dropped = (): Error =>
    new pkcs11js.Pkcs11Error('CKR_SESSION_HANDLE_INVALID', pkcs11js.CKR_SESSION_HANDLE_INVALID, 'C_Sign');

  function fakeFactory(): SessionFactory<number> & { failOpen: boolean; closed: [number, boolean][] } {
    let next = 0;
    return {
      failOpen: false,
      closed: [],
      open() {
        if (this.failOpen) throw new KeyError('hsm_token_absent', 'no token');
        return ++next;
      },
      close(session, handleGone) {
        this.closed.push([session, handleGone]);
      },
    };
  }

  it('reopens a broken session on its next use, and keeps trying while reopening fails', async () => {
    const factory = fakeFactory();
    const pool = SessionPool.open(1, factory);
    await assert.rejects(
      pool.use(() => {
        throw removed();
      }),
      /CKR_DEVICE_REMOVED/,
    );
    factory.failOpen = true;
    await assert.rejects(
      pool.use(() => 'unreached'),
      (err: unknown) => isKeyError(err, 'hsm_token_absent'),
    );
    await assert.rejects(
      pool.use(() => 'unreached'),
      (err: unknown) => isKeyError(err, 'hsm_token_absent'),
    );
    assert.deepEqual(factory.closed, [[1, false]], 'the broken session is closed once');
    factory.failOpen = false;
    assert.equal(await pool.use((s) => s), 2);
    // A session the token dropped is only forgotten (its handle may be reused), not closed again.
    await assert.rejects(
      pool.use(() => {
        throw dropped();
      }),
      /CKR_SESSION_HANDLE_INVALID/,
    );
    assert.equal(await pool.use((s) => s), 3);
    // Other errors leave the session alone.
    await assert.rejects(
      pool.use(() => {
        throw new Error('bad input');
      }),
    );
    assert.equal(await pool.use((s) => s), 3);
    await pool.close();
    assert.deepEqual(factory.closed, [
      [1, false],
      [2, true],
      [3, false],
    ]);
    assert.equal(pool.inUse, 0);
  });

  it('serves waiting operations in order; a failed open closes the sessions already open', async () => {
    const factory = fakeFactory();
    const pool = SessionPool.open(2, factory);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const order: number[] = [];
    const held = [1, 2].map(() => pool.use(() => gate));
    const queued = [1, 2, 3, 4].map((i) =>
      pool.use(() => {
        order.push(i);
      }),
    );
    assert.equal(pool.inUse, 2);
    release();
    await Promise.all([...held, ...queued]);
    assert.deepEqual(order, [1, 2, 3, 4]);
    assert.equal(pool.peakInUse, 2);
    await pool.close();

    let opened = 0;
    const failing: SessionFactory<number> & { closed: number[] } = {
      closed: [],
      open() {
        if (opened === 2) throw new KeyError('hsm_pin_incorrect', 'refused');
        return ++opened;
      },
      close(session) {
        this.closed.push(session);
      },
    };
    assert.throws(
      () => SessionPool.open(4, failing),
      (err: unknown) => isKeyError(err, 'hsm_pin_incorrect'),
    );
    assert.deepEqual(failing.closed, [1, 2]);
  });
});
