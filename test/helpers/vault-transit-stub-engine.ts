/**
 * The Transit secrets engine behind the Vault API stub (see vault-transit-stub.ts): routes, key
 * management and operations, answering with the fields, messages and status codes of
 * https://developer.hashicorp.com/vault/api-docs/secret/transit and of hashicorp/vault
 * builtin/logical/transit/path_{keys,keys_config,trim,rotate,encrypt,decrypt,rewrap,datakey,
 * sign_verify}.go (error strings are copied from there). Cryptography: vault-transit-stub-keys.ts.
 */
import { randomBytes } from 'node:crypto';
import {
  aad,
  decodeStd,
  describe,
  entry,
  goBase64Error,
  HASHES,
  int,
  newVersion,
  NOT_FOUND,
  ok,
  open,
  Refusal,
  refuse,
  seal,
  signWith,
  splitVersioned,
  str,
  TYPES,
  unsupportedOperation,
  unsupportedPath,
  verifyWith,
  type Body,
  type StubAnswer,
  type StubKey,
  type StubOperation,
  type StubType,
} from './vault-transit-stub-keys.js';

export type { StubAnswer, StubOperation } from './vault-transit-stub-keys.js';

export class TransitEngine {
  private readonly keys = new Map<string, StubKey>();

  handle(op: StubOperation, segments: readonly string[], body: Body): StubAnswer {
    try {
      return this.route(op, segments, body);
    } catch (err) {
      if (err instanceof Refusal) return err.answer;
      throw err;
    }
  }

  private route(op: StubOperation, s: readonly string[], body: Body): StubAnswer {
    const [head, name = '', tail, extra] = s;
    if (s.length > 0 && !s.slice(1).every((p) => /^\w(?:[\w.@-]*\w)?$/.test(p))) return unsupportedPath();
    const update = op === 'update';
    if (head === 'keys' && s.length === 1) return op === 'list' ? this.list() : unsupportedOperation();
    if (head === 'keys' && s.length === 2) {
      if (op === 'read') return this.read(name);
      if (op === 'delete') return this.remove(name);
      return update ? this.create(name, body) : unsupportedOperation();
    }
    if (head === 'keys' && s.length === 3 && update) {
      if (tail === 'rotate') return this.rotate(name);
      if (tail === 'config') return this.configure(name, body);
      if (tail === 'trim') return this.trim(name, body);
    }
    if (head === 'datakey' && s.length === 3 && update) return this.datakey(name, tail ?? '', body);
    if (s.length === 2 && update) {
      if (head === 'encrypt') return this.encrypt(name, body);
      if (head === 'decrypt') return this.decrypt(name, body);
      if (head === 'rewrap') return this.rewrap(name, body);
    }
    if ((head === 'sign' || head === 'verify') && (s.length === 2 || s.length === 3) && update && !extra) {
      return head === 'sign' ? this.sign(name, tail, body) : this.verify(name, tail, body);
    }
    return s.length <= 3 &&
      ['keys', 'encrypt', 'decrypt', 'rewrap', 'datakey', 'sign', 'verify'].includes(head ?? '')
      ? unsupportedOperation()
      : unsupportedPath();
  }

  private list(): StubAnswer {
    const names = [...this.keys.keys()].sort();
    return names.length ? ok({ keys: names }) : NOT_FOUND; // Vault answers an empty LIST with 404
  }

  private read(name: string): StubAnswer {
    const key = this.keys.get(name);
    return key ? ok(describe(key)) : NOT_FOUND;
  }

  private create(name: string, body: Body): StubAnswer {
    const type = str(body, 'type', 'aes256-gcm96');
    if (body.derived === true || body.convergent_encryption === true) {
      refuse('stub: derived keys are not implemented');
    }
    if (!(TYPES as readonly string[]).includes(type)) {
      const known = [
        'aes128-gcm96',
        'chacha20-poly1305',
        'ecdsa-p521',
        'rsa-2048',
        'rsa-3072',
        'rsa-4096',
        'hmac',
      ];
      return refuse(
        known.includes(type) ? `stub: key type ${type} is not implemented` : `unknown key type ${type}`,
      );
    }
    // path_keys.go validates the type first, then upserts: an existing key is returned with a warning.
    const existing = this.keys.get(name);
    if (existing) return ok(describe(existing), [`key ${name} already existed`]);
    return ok(describe(this.add(name, type as StubType)));
  }

  private add(name: string, type: StubType): StubKey {
    const key: StubKey = {
      name,
      type,
      latest: 1,
      minDecryption: 1,
      minEncryption: 0,
      minAvailable: 0,
      deletionAllowed: false,
      versions: new Map([[1, newVersion(type)]]),
    };
    this.keys.set(name, key);
    return key;
  }

  private remove(name: string): StubAnswer {
    const key = this.keys.get(name);
    if (!key) return refuse(`error deleting policy ${name}: could not delete key; not found`);
    if (!key.deletionAllowed) {
      return refuse(`error deleting policy ${name}: deletion is not allowed for this key`);
    }
    this.keys.delete(name);
    return { status: 204 };
  }

  private rotate(name: string): StubAnswer {
    const key = this.keys.get(name) ?? refuse('key not found');
    key.latest += 1;
    key.versions.set(key.latest, newVersion(key.type));
    return ok(describe(key));
  }

  /** path_keys_config.go pathKeysConfigWrite, in its order. */
  private configure(name: string, body: Body): StubAnswer {
    const key = this.keys.get(name) ?? refuse(`no existing key named ${name} could be found`);
    const warnings: string[] = [];
    let minDecryption = key.minDecryption;
    let minEncryption = key.minEncryption;
    let changed = false;
    const dec = int(body, 'min_decryption_version');
    if (dec !== undefined) {
      if (dec < 0) refuse('min decryption version cannot be negative');
      const value = dec === 0 ? 1 : dec;
      if (dec === 0) {
        warnings.push('since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1');
      }
      if (value !== minDecryption) {
        if (value > key.latest) {
          refuse(`cannot set min decryption version of ${value}, latest key version is ${key.latest}`);
        }
        minDecryption = value;
        changed = true;
      }
    }
    const enc = int(body, 'min_encryption_version');
    if (enc !== undefined) {
      if (enc < 0) refuse('min encryption version cannot be negative');
      if (enc !== minEncryption) {
        if (enc > key.latest) {
          refuse(`cannot set min encryption version of ${enc}, latest key version is ${key.latest}`);
        }
        minEncryption = enc;
        changed = true;
      }
    }
    if (minEncryption > 0 && minEncryption < minDecryption) {
      refuse(
        `cannot set min encryption/decryption values; min encryption version of ${minEncryption} must be ` +
          `greater than or equal to min decryption version of ${minDecryption}`,
      );
    }
    const deletion = body.deletion_allowed;
    if (typeof deletion === 'boolean' && deletion !== key.deletionAllowed) changed = true;
    if (changed) {
      if (key.minAvailable > minEncryption) {
        refuse('min encryption version should not be less than min available version');
      }
      if (key.minAvailable > minDecryption) {
        refuse('min decryption version should not be less then min available version');
      }
      key.minDecryption = minDecryption;
      key.minEncryption = minEncryption;
      if (typeof deletion === 'boolean') key.deletionAllowed = deletion;
    }
    return ok(describe(key), warnings.length ? warnings : undefined);
  }

  /** path_trim.go: deletes every version below min_available_version. */
  private trim(name: string, body: Body): StubAnswer {
    const key = this.keys.get(name) ?? refuse('invalid key name');
    const value = int(body, 'min_available_version') ?? refuse('missing min_available_version');
    if (value < key.minAvailable) refuse('minimum available version cannot be decremented');
    if (key.minEncryption === 0) {
      refuse('minimum available version cannot be set when minimum encryption version is not set');
    }
    if (key.minDecryption === 0) {
      refuse('minimum available version cannot be set when minimum decryption version is not set');
    }
    if (value > key.minEncryption) {
      refuse('minimum available version cannot be greater than minmum encryption version');
    }
    if (value > key.minDecryption) {
      refuse('minimum available version cannot be greater than minimum decryption version');
    }
    if (value < 0) refuse('minimum available version cannot be negative');
    if (value === 0) refuse('minimum available version should be positive');
    key.minAvailable = value;
    for (const version of [...key.versions.keys()]) if (version < value) key.versions.delete(version);
    return ok(describe(key));
  }

  private encrypt(name: string, body: Body): StubAnswer {
    if (typeof body.plaintext !== 'string') return refuse('missing plaintext to encrypt');
    const plaintext = decodeStd(body.plaintext) ?? refuse(goBase64Error(body.plaintext));
    let key = this.keys.get(name);
    if (!key) {
      // The stub's token may do anything, so a missing key is upserted (the `create` capability).
      const type = str(body, 'type', 'aes256-gcm96');
      if (type.startsWith('ecdsa-')) refuse(`key type ${type} not supported for this operation`);
      if (type !== 'aes256-gcm96') refuse(`unknown key type ${type}`);
      key = this.add(name, 'aes256-gcm96');
    }
    const [ciphertext, version] = seal(key, int(body, 'key_version') ?? 0, plaintext, aad(key, body));
    return ok({ ciphertext, key_version: version });
  }

  private decrypt(name: string, body: Body): StubAnswer {
    const ciphertext = str(body, 'ciphertext');
    if (!ciphertext) return refuse('missing ciphertext to decrypt');
    const key = this.keys.get(name) ?? refuse('encryption key not found');
    return ok({ plaintext: open(key, ciphertext, aad(key, body)).toString('base64') });
  }

  /** path_rewrap.go: decrypt and encrypt again, with NO associated data (Vault ignores the field). */
  private rewrap(name: string, body: Body): StubAnswer {
    const ciphertext = str(body, 'ciphertext');
    if (!ciphertext) return refuse('missing ciphertext to decrypt');
    const key = this.keys.get(name) ?? refuse('encryption key not found');
    const plaintext = open(key, ciphertext, null);
    const [rewrapped, version] = seal(key, int(body, 'key_version') ?? 0, plaintext, null);
    return ok({ ciphertext: rewrapped, key_version: version });
  }

  /** path_datakey.go: no associated_data either. */
  private datakey(name: string, kind: string, body: Body): StubAnswer {
    if (kind !== 'plaintext' && kind !== 'wrapped') {
      return refuse("Invalid path, must be 'plaintext' or 'wrapped'");
    }
    const key = this.keys.get(name) ?? refuse('encryption key not found');
    const bits = int(body, 'bits') ?? 256;
    if (![128, 256, 512].includes(bits)) refuse('invalid bit length');
    const dataKey = randomBytes(bits / 8);
    const [ciphertext, version] = seal(key, int(body, 'key_version') ?? 0, dataKey, null);
    return ok({
      ciphertext,
      key_version: version,
      ...(kind === 'plaintext' ? { plaintext: dataKey.toString('base64') } : {}),
    });
  }

  private signingArgs(name: string, urlHash: string | undefined, body: Body, verb: string) {
    const hashName = urlHash ?? (str(body, 'hash_algorithm') || str(body, 'algorithm') || 'sha2-256');
    const hash = HASHES[hashName] ?? refuse(`invalid hash algorithm "${hashName}"`);
    const marshaling = str(body, 'marshaling_algorithm', 'asn1');
    if (marshaling !== 'asn1' && marshaling !== 'jws') refuse(`invalid marshaling type "${marshaling}"`);
    const key = this.keys.get(name) ?? refuse('encryption key not found');
    if (key.type === 'aes256-gcm96') refuse(`key type ${key.type} does not support ${verb}`);
    const inputText = str(body, 'input');
    const input =
      decodeStd(inputText) ?? refuse(`unable to decode input as base64: ${goBase64Error(inputText)}`);
    return { key, hash, jws: marshaling === 'jws', input };
  }

  /** path_sign_verify.go + keysutil SignWithOptions: ECDSA signs the hash of the input. */
  private sign(name: string, urlHash: string | undefined, body: Body): StubAnswer {
    const { key, hash, jws, input } = this.signingArgs(name, urlHash, body, 'signing');
    const requested = int(body, 'key_version') ?? 0;
    if (requested < 0) refuse('requested version for signing is negative');
    if (requested > key.latest) refuse('requested version for signing is higher than the latest key version');
    if (key.minEncryption > 0 && requested !== 0 && requested < key.minEncryption) {
      refuse('requested version for signing is less than the minimum encryption key version');
    }
    const version = requested || key.latest;
    const encoded = signWith(entry(key, version), key.type, hash, jws, input);
    return ok({ signature: `vault:v${version}:${encoded}`, key_version: version });
  }

  private verify(name: string, urlHash: string | undefined, body: Body): StubAnswer {
    if (typeof body.signature !== 'string' && typeof body.hmac !== 'string') {
      refuse("neither a 'signature' nor an 'hmac' were given to verify");
    }
    if (typeof body.hmac === 'string') refuse('stub: HMAC verification is not implemented');
    const { key, hash, jws, input } = this.signingArgs(name, urlHash, body, 'verification');
    const [version, encoded] = splitVersioned(key, body.signature as string, 'signature');
    const sig = jws
      ? /^[A-Za-z0-9_-]*$/.test(encoded) && encoded.length % 4 !== 1
        ? Buffer.from(encoded, 'base64url')
        : refuse('invalid base64 signature value')
      : (decodeStd(encoded) ?? refuse('invalid base64 signature value'));
    return ok({ valid: verifyWith(entry(key, version), key.type, hash, jws, input, sig) });
  }
}
