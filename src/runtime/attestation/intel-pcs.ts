// Intel collateral for TDX quotes (Intel "PCK Certificate and CRL Profile", PCS API v4): the
// pinned Intel SGX Root CA, the PCK certificate chain and its SGX extension, CRLs, and the signed
// TDX TCB info and QE identity (evaluated in tdx.ts). The only trust anchor is the bundled root
// (intel-roots/, pinned by SHA-256 over its DER); a root carried in a quote or an issuer chain is
// never used, and if present must be byte-identical to the pinned one.
//
// PCK SGX extension (OID 1.2.840.113741.1.13.1, a SEQUENCE of { OID, value }): .2 TCB (.2.1 ..
// .2.16 SGX TCB comp SVNs, .2.17 PCESVN, .2.18 CPUSVN), .3 PCE-ID [2], .4 FMSPC [6].
//
// PCS responses `{"tcbInfo":{…},"signature":"<r‖s hex>"}` / `{"enclaveIdentity":…}` are signed
// (ECDSA P-256/SHA-256 over the exact bytes of the inner object) by "Intel SGX TCB Signing" (the
// `TCB-Info-Issuer-Chain` header, passed as `tcbSigningChain`); signatures are always checked and
// the evaluated data is parsed from the signed bytes. Collateral not authentic → chain_invalid;
// outside issueDate..nextUpdate (CRL: thisUpdate..nextUpdate) → expired; unparseable →
// malformed_evidence.
import { createHash, verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { certificateExtensions } from './amd-certs.js';
import { AttestationError, type AttestationErrorCode } from './types.js';
import { children, readTlv, type Tlv } from './der.js';

/** SHA-256 over the DER of the Intel SGX Root CA (CN=Intel SGX Root CA, valid 2018-05-21 .. 2049-12-31). */
export const PINNED_INTEL_SGX_ROOT_SHA256 =
  '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3';
const ROOT_URL = new URL(
  '../../../src/runtime/attestation/intel-roots/intel_sgx_root_ca.pem',
  import.meta.url,
);

const OID_SGX_EXT = '1.2.840.113741.1.13.1';
/** DER contents (hex) of the SGX extension OID and of ecdsa-with-SHA256. */
const SGX_HEX = '2a864886f84d010d01';
const ECDSA_SHA256_HEX = '2a8648ce3d040302';

function fail(code: AttestationErrorCode, message: string): never {
  throw new AttestationError(code, message, 'tdx');
}

// ---- minimal bounded DER reader (definite lengths only) ----

function smallInt(t: Tlv | undefined, what: string): number {
  if (!t || (t.tag !== 0x02 && t.tag !== 0x0a) || t.value.length === 0 || t.value.length > 3) {
    throw new RangeError(`${what} is not a small INTEGER`);
  }
  if ((t.value[0] ?? 0) & 0x80) throw new RangeError(`${what} is negative`);
  return t.value.reduce((n, b) => n * 256 + b, 0);
}

/** Serial number as upper-case hex without leading zeros (how X509Certificate.serialNumber compares). */
const serialHex = (v: Uint8Array): string =>
  Buffer.from(v)
    .toString('hex')
    .toUpperCase()
    .replace(/^0+(?=.)/, '');

function derTime(t: Tlv | undefined): number {
  if (!t || (t.tag !== 0x17 && t.tag !== 0x18)) throw new RangeError('not a Time');
  const s = Buffer.from(t.value).toString('latin1');
  const m = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) throw new RangeError(`bad Time ${s}`);
  let year = Number(m[1]);
  if (t.tag === 0x17) year += year < 50 ? 2000 : 1900;
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/** The subject Name (DER) of a certificate. */
function subjectDer(cert: X509Certificate): Uint8Array {
  const tbs = children(readTlv(cert.raw, 0).value)[0];
  const f = children(tbs?.value ?? new Uint8Array());
  const subject = f[f[0]?.tag === 0xa0 ? 5 : 4];
  if (!subject) throw new RangeError('certificate has no subject');
  return subject.raw;
}

// ---- certificates ----

export function splitPemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

const fingerprint = (c: X509Certificate): string => createHash('sha256').update(c.raw).digest('hex');

/** Parses a root PEM and checks it against the pin and its self-signature. */
export function loadIntelRoot(pem: string): X509Certificate {
  const [one, ...rest] = splitPemCertificates(pem);
  if (!one || rest.length) throw new Error('the Intel root file must hold exactly one certificate');
  const root = new X509Certificate(one);
  if (fingerprint(root) !== PINNED_INTEL_SGX_ROOT_SHA256) {
    throw new Error('Intel SGX Root CA does not match its pinned SHA-256 fingerprint');
  }
  if (!root.checkIssued(root) || !root.verify(root.publicKey))
    throw new Error('Intel SGX Root CA is not self-signed');
  return root;
}

let bundledRoot: X509Certificate | undefined;

/** The bundled, pinned Intel SGX Root CA (read and checked once). */
export function bundledIntelRoot(): X509Certificate {
  bundledRoot ??= loadIntelRoot(readFileSync(ROOT_URL, 'utf8'));
  return bundledRoot;
}

export function checkValidity(cert: X509Certificate, what: string, now: number): void {
  if (!(Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo)))
    fail('expired', `${what} is valid ${cert.validFrom} .. ${cert.validTo}`);
}

function cn(cert: X509Certificate): string {
  return /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? '';
}

function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

/** `issued` is signed by `issuer` (names, CA flag, signature). */
function issuedBy(issued: X509Certificate, issuer: X509Certificate): boolean {
  return issuer.ca && issued.checkIssued(issuer) && issued.verify(issuer.publicKey);
}

/**
 * Parses a PEM chain "leaf, [intermediates], [root]" that must end at the pinned root. Returns
 * [leaf, ...intermediates, pinnedRoot]; every certificate is checked for validity at `now`.
 */
function verifyChainToRoot(pem: string, root: X509Certificate, now: number, what: string): X509Certificate[] {
  let certs: X509Certificate[];
  try {
    certs = splitPemCertificates(pem).map((p) => new X509Certificate(p));
  } catch {
    fail('malformed_evidence', `${what} holds a certificate that does not parse`);
  }
  if (certs.length === 0) fail('malformed_evidence', `${what} holds no certificate`);
  const last = certs[certs.length - 1];
  if (last && last.subject === last.issuer) {
    if (!Buffer.from(last.raw).equals(root.raw))
      fail('chain_invalid', `${what} ends at a root other than the pinned Intel SGX Root CA`);
    certs.pop();
  }
  const chain = [...certs, root];
  for (let i = 0; i + 1 < chain.length; i++) {
    const [c, issuer] = [chain[i], chain[i + 1]];
    if (!c || !issuer || !issuedBy(c, issuer))
      fail('chain_invalid', `${what}: certificate ${i} is not issued by the next`);
  }
  chain.forEach((c, i) => checkValidity(c, `${what} certificate ${i} (${cn(c)})`, now));
  return chain;
}

export interface PckInfo {
  leaf: X509Certificate;
  /** Intel SGX PCK Platform CA or Processor CA. */
  intermediate: X509Certificate;
  root: X509Certificate;
  publicKey: KeyObject;
  /** Hex, lowercase. */
  fmspc: string;
  pceId: string;
  pceSvn: number;
  /** SGX TCB comp SVNs 1..16 (index 0 = comp 01). */
  sgxTcbCompSvns: readonly number[];
  cpuSvn: string;
}

/** The SGX extension of a PCK certificate. */
export function parsePckExtension(
  der: Uint8Array,
): Omit<PckInfo, 'leaf' | 'intermediate' | 'root' | 'publicKey'> {
  const ext = certificateExtensions(der).get(OID_SGX_EXT);
  if (!ext) throw new RangeError('no SGX extension (1.2.840.113741.1.13.1)');
  const fields = new Map<string, Tlv>();
  const collect = (seq: Uint8Array): void => {
    for (const entry of children(readTlv(seq, 0).value)) {
      const [id, value] = children(entry.value);
      if (!id || id.tag !== 0x06 || !value) throw new RangeError('bad SGX extension entry');
      fields.set(Buffer.from(id.value).toString('hex'), value);
    }
  };
  collect(ext);
  const tcb = fields.get(`${SGX_HEX}02`);
  if (!tcb || tcb.tag !== 0x30) throw new RangeError('SGX extension lacks TCB');
  collect(tcb.raw);
  const octets = (oid: string, size: number): string => {
    const t = fields.get(`${SGX_HEX}${oid}`);
    if (!t || t.tag !== 0x04 || t.value.length !== size)
      throw new RangeError(`SGX extension ${oid} is not ${size} octets`);
    return Buffer.from(t.value).toString('hex');
  };
  const sgxTcbCompSvns = Array.from({ length: 16 }, (_, i) =>
    smallInt(fields.get(`${SGX_HEX}02${(i + 1).toString(16).padStart(2, '0')}`), `SGX TCB comp SVN ${i + 1}`),
  );
  return {
    fmspc: octets('04', 6),
    pceId: octets('03', 2),
    pceSvn: smallInt(fields.get(`${SGX_HEX}0211`), 'PCESVN'),
    sgxTcbCompSvns,
    cpuSvn: octets('0212', 16),
  };
}

/** Verifies PCK leaf ← PCK Platform/Processor CA ← pinned Intel SGX Root CA and reads the leaf's SGX extension. */
export function verifyPckChain(
  pem: string,
  now: number,
  root: X509Certificate = bundledIntelRoot(),
): PckInfo {
  const chain = verifyChainToRoot(pem, root, now, 'PCK chain');
  const [leaf, intermediate] = chain;
  if (chain.length !== 3 || !leaf || !intermediate)
    fail('chain_invalid', 'PCK chain must be leaf, PCK CA, root');
  if (cn(leaf) !== 'Intel SGX PCK Certificate') fail('chain_invalid', `PCK leaf is "${cn(leaf)}"`);
  if (!/^Intel SGX PCK (Platform|Processor) CA$/.test(cn(intermediate))) {
    fail('chain_invalid', `PCK intermediate is "${cn(intermediate)}"`);
  }
  if (leaf.ca || !isP256(leaf.publicKey))
    fail('chain_invalid', 'PCK leaf is a CA or its key is not ECDSA P-256');
  let ext: ReturnType<typeof parsePckExtension>;
  try {
    ext = parsePckExtension(leaf.raw);
  } catch (e) {
    fail('chain_invalid', `PCK SGX extension unreadable: ${(e as Error).message}`);
  }
  return { leaf, intermediate, root, publicKey: leaf.publicKey, ...ext };
}

// ---- CRLs ----

/** DER bytes, or PEM / base64 text. */
export type CrlInput = Uint8Array | string;
export type Crl = {
  issuer: Uint8Array;
  thisUpdate: number;
  nextUpdate: number;
  revoked: ReadonlySet<string>;
};

/** Parses a DER (or PEM) X.509 CRL, checks its ECDSA-SHA256 signature by `issuer` and its dates. */
export function verifyCrl(data: CrlInput, issuer: X509Certificate, now: number, what: string): Crl {
  const pem = typeof data === 'string' ? /-----BEGIN X509 CRL-----([\s\S]+?)-----END/.exec(data) : null;
  const der = typeof data === 'string' ? Buffer.from(pem?.[1] ?? data, 'base64') : data;
  let crl: Crl;
  let ok: boolean;
  try {
    const [tbs, alg, sig] = children(readTlv(der, 0).value);
    if (!tbs || !alg || !sig || sig.tag !== 0x03 || sig.value[0] !== 0)
      throw new RangeError('not a CertificateList');
    if (serialHex(children(alg.value)[0]?.value ?? new Uint8Array()) !== ECDSA_SHA256_HEX.toUpperCase())
      throw new RangeError('not ecdsa-with-SHA256');
    const f = children(tbs.value);
    let i = f[0]?.tag === 0x02 ? 2 : 1; // optional version, then signature AlgorithmIdentifier
    const name = f[i++];
    const thisUpdate = derTime(f[i++]);
    const nextUpdate = derTime(f[i++]);
    const revoked = new Set<string>();
    const list = f[i];
    if (list?.tag === 0x30) {
      for (const entry of children(list.value)) {
        const serial = children(entry.value)[0];
        if (serial?.tag !== 0x02) throw new RangeError('bad revoked entry');
        revoked.add(serialHex(serial.value));
      }
    }
    if (!name) throw new RangeError('no issuer');
    crl = { issuer: name.raw, thisUpdate, nextUpdate, revoked };
    const key = issuer.publicKey;
    ok = cryptoVerify('sha256', tbs.raw, { key, dsaEncoding: 'der' }, sig.value.subarray(1));
  } catch (e) {
    fail('malformed_evidence', `${what} is not a readable CRL: ${(e as Error).message}`);
  }
  if (!Buffer.from(crl.issuer).equals(subjectDer(issuer)) || !ok)
    fail('chain_invalid', `${what} is not signed by ${cn(issuer)}`);
  if (!(crl.thisUpdate <= now && now <= crl.nextUpdate))
    fail('expired', `${what} is not current at ${new Date(now).toISOString()}`);
  return crl;
}

export function checkNotRevoked(crl: Crl, cert: X509Certificate, what: string): void {
  if (crl.revoked.has(cert.serialNumber.toUpperCase().replace(/^0+(?=.)/, '')))
    fail('chain_invalid', `${what} is revoked`);
}

// ---- signed collateral: TDX TCB info and QE identity ----

const hexStr = (n: number) => z.string().regex(new RegExp(`^[0-9a-fA-F]{${n}}$`));
const svns = z.array(z.object({ svn: z.number().int().min(0) })).length(16);
const dates = { issueDate: z.string(), nextUpdate: z.string(), tcbEvaluationDataNumber: z.number().int() };
const status = {
  tcbDate: z.string().optional(),
  tcbStatus: z.string(),
  advisoryIDs: z.array(z.string()).optional(),
};

export const TdxTcbInfoSchema = z.object({
  id: z.literal('TDX'),
  version: z.literal(3),
  fmspc: hexStr(12),
  pceId: hexStr(4),
  ...dates,
  tdxModule: z
    .object({ mrsigner: hexStr(96), attributes: hexStr(16), attributesMask: hexStr(16) })
    .optional(),
  tdxModuleIdentities: z.array(z.unknown()).optional(),
  tcbLevels: z
    .array(
      z.object({
        tcb: z.object({ sgxtcbcomponents: svns, pcesvn: z.number().int(), tdxtcbcomponents: svns }),
        ...status,
      }),
    )
    .min(1),
});
export type TdxTcbInfo = z.infer<typeof TdxTcbInfoSchema>;

export const QeIdentitySchema = z.object({
  id: z.literal('TD_QE'),
  version: z.literal(2),
  ...dates,
  miscselect: hexStr(8),
  miscselectMask: hexStr(8),
  attributes: hexStr(32),
  attributesMask: hexStr(32),
  mrsigner: hexStr(64),
  isvprodid: z.number().int(),
  tcbLevels: z.array(z.object({ tcb: z.object({ isvsvn: z.number().int() }), ...status })).min(1),
});
export type QeIdentity = z.infer<typeof QeIdentitySchema>;

/**
 * Checks a PCS response's signature (by the Intel SGX TCB Signing certificate chained to the
 * pinned root), its dates at `now`, and returns the parsed signed object.
 */
export function verifySignedCollateral<T>(
  body: string,
  key: 'tcbInfo' | 'enclaveIdentity',
  schema: z.ZodType<T>,
  signingChainPem: string,
  now: number,
  root: X509Certificate = bundledIntelRoot(),
): T {
  const m = new RegExp(`^\\s*\\{"${key}":([\\s\\S]*),"signature":"([0-9a-fA-F]{128})"\\}\\s*$`).exec(body);
  if (!m) fail('malformed_evidence', `${key} response is not {"${key}":…,"signature":"…"}`);
  const [signed, sig] = [m[1] ?? '', m[2] ?? ''];
  const [signer] = verifyChainToRoot(signingChainPem, root, now, 'TCB signing chain');
  if (!signer || cn(signer) !== 'Intel SGX TCB Signing' || signer.ca || !isP256(signer.publicKey)) {
    fail('chain_invalid', `collateral signer is "${signer ? cn(signer) : ''}", not Intel SGX TCB Signing`);
  }
  const ok = cryptoVerify(
    'sha256',
    Buffer.from(signed, 'utf8'),
    { key: signer.publicKey, dsaEncoding: 'ieee-p1363' },
    Buffer.from(sig, 'hex'),
  );
  if (!ok) fail('chain_invalid', `${key} signature does not verify with the Intel SGX TCB Signing key`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(signed);
  } catch {
    fail('malformed_evidence', `${key} is not JSON`);
  }
  const r = schema.safeParse(parsed);
  if (!r.success) fail('malformed_evidence', `${key}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  const d = r.data as { issueDate: string; nextUpdate: string };
  if (!(Date.parse(d.issueDate) <= now && now <= Date.parse(d.nextUpdate))) {
    fail('expired', `${key} is valid ${d.issueDate} .. ${d.nextUpdate}`);
  }
  return r.data;
}
