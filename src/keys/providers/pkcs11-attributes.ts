/** PKCS#11 templates and encodings for the key algorithms ztgate keeps in a token. */
import { createPublicKey, type KeyObject } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { GcmParams, Mechanism, Template } from 'pkcs11js';
import { KeyError } from '../errors.js';
import type { KeyAlgorithm } from '../types.js';

export type SigningAlgorithm = Exclude<KeyAlgorithm, 'aes-256-gcm'>;

// PKCS#11 3.0 values that pkcs11js 2 does not export.
const CKK_EC_EDWARDS = 0x40;
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;

interface Curve {
  readonly keyType: number;
  readonly generate: number;
  /** CKA_EC_PARAMS: the DER OID of the curve (SoftHSM 2.6 also takes PrintableString "edwards25519"). */
  readonly params: Buffer;
  readonly jwkCurve: string;
  /** Size of the raw public point: 04||x||y for the NIST curves, 32 bytes for Ed25519. */
  readonly pointBytes: number;
}

const CURVES: Readonly<Record<SigningAlgorithm, Curve>> = {
  'ecdsa-p256': {
    keyType: pkcs11js.CKK_EC,
    generate: pkcs11js.CKM_EC_KEY_PAIR_GEN,
    params: Buffer.from('06082a8648ce3d030107', 'hex'), // 1.2.840.10045.3.1.7
    jwkCurve: 'P-256',
    pointBytes: 65,
  },
  'ecdsa-p384': {
    keyType: pkcs11js.CKK_EC,
    generate: pkcs11js.CKM_EC_KEY_PAIR_GEN,
    params: Buffer.from('06052b81040022', 'hex'), // 1.3.132.0.34
    jwkCurve: 'P-384',
    pointBytes: 97,
  },
  ed25519: {
    keyType: CKK_EC_EDWARDS,
    generate: CKM_EC_EDWARDS_KEY_PAIR_GEN,
    params: Buffer.from('06032b6570', 'hex'), // 1.3.101.112
    jwkCurve: 'Ed25519',
    pointBytes: 32,
  },
};

/** Attributes every private or secret key gets: a token object that never leaves the token. */
function secretAttributes(label: string): Template {
  return [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ID, value: Buffer.from(label) },
  ];
}

export function aesKeyTemplate(label: string): { mechanism: Mechanism; template: Template } {
  return {
    mechanism: { mechanism: pkcs11js.CKM_AES_KEY_GEN },
    template: [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
      { type: pkcs11js.CKA_ENCRYPT, value: true },
      { type: pkcs11js.CKA_DECRYPT, value: true },
      { type: pkcs11js.CKA_WRAP, value: false },
      { type: pkcs11js.CKA_UNWRAP, value: false },
      ...secretAttributes(label),
    ],
  };
}

export function keyPairTemplates(
  algorithm: SigningAlgorithm,
  label: string,
): { mechanism: Mechanism; publicTemplate: Template; privateTemplate: Template } {
  const curve = CURVES[algorithm];
  return {
    mechanism: { mechanism: curve.generate },
    publicTemplate: [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: curve.keyType },
      { type: pkcs11js.CKA_EC_PARAMS, value: curve.params },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: false },
      { type: pkcs11js.CKA_VERIFY, value: true },
      { type: pkcs11js.CKA_LABEL, value: label },
      { type: pkcs11js.CKA_ID, value: Buffer.from(label) },
    ],
    privateTemplate: [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: curve.keyType },
      { type: pkcs11js.CKA_SIGN, value: true },
      { type: pkcs11js.CKA_DERIVE, value: false },
      ...secretAttributes(label),
    ],
  };
}

/** The GCM mechanism for one wrap or unwrap: 96-bit IV, 128-bit tag. */
export function gcmMechanism(iv: Buffer, aad: Uint8Array): Mechanism {
  // The v2.40 layout (with ulIvBits) is the CK_GCM_PARAMS SoftHSM 2.6 and most HSMs expect.
  const parameter: GcmParams = {
    type: pkcs11js.CK_PARAMS_AES_GCM_v240,
    iv,
    ivBits: 96,
    aad: Buffer.from(aad),
    tagBits: 128,
  };
  return { mechanism: pkcs11js.CKM_AES_GCM, parameter };
}

/** Reads a DER OCTET STRING that spans all of `der`; undefined when `der` is not one. */
function octetString(der: Buffer): Buffer | undefined {
  if (der.length < 2 || der[0] !== 0x04) return undefined;
  let length = der[1] ?? 0;
  let offset = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count < 1 || count > 2 || der.length < 2 + count) return undefined;
    length = der.readUIntBE(2, count);
    offset += count;
  }
  return offset + length === der.length ? der.subarray(offset) : undefined;
}

/**
 * CKA_EC_POINT → node public key. The attribute should be a DER OCTET STRING around the point
 * (SoftHSM does this for Ed25519 too); some tokens give the bare point, which is accepted as well.
 */
export function publicKeyFromPoint(algorithm: SigningAlgorithm, ecPoint: Buffer): KeyObject {
  const curve = CURVES[algorithm];
  const wrapped = octetString(ecPoint);
  const point = wrapped?.length === curve.pointBytes ? wrapped : ecPoint;
  const uncompressed = algorithm === 'ed25519' || point[0] === 0x04;
  if (point.length !== curve.pointBytes || !uncompressed) {
    throw new KeyError('hsm_error', `the token returned a ${algorithm} public point of an unexpected form`);
  }
  if (algorithm === 'ed25519') {
    return createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: point.toString('base64url') },
      format: 'jwk',
    });
  }
  const half = (point.length - 1) / 2;
  return createPublicKey({
    key: {
      kty: 'EC',
      crv: curve.jwkCurve,
      x: point.subarray(1, 1 + half).toString('base64url'),
      y: point.subarray(1 + half).toString('base64url'),
    },
    format: 'jwk',
  });
}
