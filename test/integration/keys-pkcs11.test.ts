// The pkcs11 KeyProvider against a private SoftHSM2 (softhsm2-util and libsofthsm2 are required;
// these tests fail, never skip, without them).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import pkcs11js from 'pkcs11js';
import type { Handle, PKCS11 } from 'pkcs11js';
import { isKeyError } from '../../src/keys/errors.js';
import { createPkcs11Provider, type Pkcs11ProviderOptions } from '../../src/keys/providers/pkcs11.js';
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

after(() => {
  contractHsm.cleanup();
  hsm.cleanup();
  pinHsm.cleanup();
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
