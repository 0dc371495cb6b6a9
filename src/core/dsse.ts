/**
 * DSSE pre-authentication encoding (in-toto DSSE v1): `DSSEv1 <len(type)> <type> <len(body)> <body>`,
 * lengths in bytes, in decimal. What a DSSE signature signs; shared by signed policy bundles and
 * signed model manifests.
 */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'),
    type,
    Buffer.from(` ${payload.length} `, 'utf8'),
    payload,
  ]);
}
