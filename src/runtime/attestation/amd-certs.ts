// AMD's certificate chain for SEV-SNP: ARK (AMD Root Key, self-signed, RSA-4096) → ASK (AMD SEV
// Key) → VCEK (Versioned Chip Endorsement Key, ECDSA P-384, one per chip and TCB). All three are
// signed with RSASSA-PSS/SHA-384, which node:crypto's X509Certificate.verify handles (OpenSSL).
// The ARKs are bundled in amd-roots/ and pinned by SHA-256 fingerprint; a bundled file that does
// not match its pin stops the verifier from loading at all.
//
// VCEK extensions (AMD KDS interface spec #57230): 1.3.6.1.4.1.3704.1.2 productName (IA5String),
// 1.3.6.1.4.1.3704.1.3.{1,2,3,8} blSPL, teeSPL, snpSPL, ucodeSPL (INTEGER), 1.3.6.1.4.1.3704.1.4
// hwID (the 64-byte CHIP_ID, raw).
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AttestationError } from './types.js';
import { children, readTlv } from './der.js';

const ROOTS_DIR = new URL('../../../src/runtime/attestation/amd-roots/', import.meta.url);

/** SHA-256 over the DER of each bundled ARK. */
export const PINNED_ARK_SHA256: Readonly<Record<AmdProduct, string>> = {
  Milan: '69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd',
  Genoa: '4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1',
};

export type AmdProduct = 'Milan' | 'Genoa';
export const AMD_PRODUCTS: readonly AmdProduct[] = ['Milan', 'Genoa'];

export interface AmdRootSet {
  product: AmdProduct;
  ark: X509Certificate;
  ask: X509Certificate;
}

export interface VcekInfo {
  product: AmdProduct;
  /** e.g. "Milan-B0". */
  productName: string;
  tcb: { bootloader: number; tee: number; snp: number; microcode: number };
  hwid: Uint8Array;
  publicKey: KeyObject;
  cert: X509Certificate;
  ask: X509Certificate;
  ark: X509Certificate;
}

const OID_PRODUCT_NAME = '1.3.6.1.4.1.3704.1.2';
const OID_BL_SPL = '1.3.6.1.4.1.3704.1.3.1';
const OID_TEE_SPL = '1.3.6.1.4.1.3704.1.3.2';
const OID_SNP_SPL = '1.3.6.1.4.1.3704.1.3.3';
const OID_UCODE_SPL = '1.3.6.1.4.1.3704.1.3.8';
const OID_HWID = '1.3.6.1.4.1.3704.1.4';

function chainError(message: string): AttestationError {
  return new AttestationError('chain_invalid', message, 'sev-snp');
}

// ---- DER helpers for the VCEK extensions (the reader is der.ts) ----

function decodeOid(v: Uint8Array): string {
  const first = v[0] ?? 0;
  const arcs = [Math.min(2, Math.floor(first / 40)), first - Math.min(2, Math.floor(first / 40)) * 40];
  let acc = 0;
  for (let i = 1; i < v.length; i++) {
    const b = v[i] ?? 0;
    acc = acc * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(acc);
      acc = 0;
    }
  }
  return arcs.join('.');
}

/** The X.509 v3 extensions of a DER certificate, by OID → extnValue contents. */
export function certificateExtensions(der: Uint8Array): Map<string, Uint8Array> {
  const cert = readTlv(der, 0);
  const tbs = children(cert.value)[0];
  if (!tbs) throw new RangeError('no tbsCertificate');
  const out = new Map<string, Uint8Array>();
  for (const field of children(tbs.value)) {
    if (field.tag !== 0xa3) continue; // [3] EXPLICIT Extensions
    const seq = readTlv(field.value, 0);
    for (const ext of children(seq.value)) {
      const parts = children(ext.value);
      const id = parts[0];
      const value = parts[parts.length - 1];
      if (!id || id.tag !== 0x06 || !value || value.tag !== 0x04) throw new RangeError('bad extension');
      out.set(decodeOid(id.value), value.value);
    }
  }
  return out;
}

function derInteger(v: Uint8Array | undefined, name: string): number {
  if (!v) throw chainError(`VCEK lacks the ${name} extension`);
  const t = readTlv(v, 0);
  if (t.tag !== 0x02 || t.value.length === 0 || t.value.length > 2)
    throw chainError(`VCEK ${name} is not a small INTEGER`);
  let n = 0;
  for (const b of t.value) n = n * 256 + b;
  if ((t.value[0] ?? 0) & 0x80 || n > 255) throw chainError(`VCEK ${name} is out of range`);
  return n;
}

// ---- roots ----

function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function fingerprint(cert: X509Certificate): string {
  return createHash('sha256').update(cert.raw).digest('hex');
}

/** Parses an "ASK then ARK" PEM bundle and checks the ARK pin, the self-signature and the ASK. */
export function loadRootSet(product: AmdProduct, pem: string): AmdRootSet {
  const [askPem, arkPem, ...rest] = splitPem(pem);
  if (!askPem || !arkPem || rest.length) throw new Error(`AMD ${product} bundle must hold ASK then ARK`);
  const ask = new X509Certificate(askPem);
  const ark = new X509Certificate(arkPem);
  if (fingerprint(ark) !== PINNED_ARK_SHA256[product]) {
    throw new Error(`AMD ARK-${product} does not match its pinned SHA-256 fingerprint`);
  }
  if (!ark.verify(ark.publicKey) || !ark.checkIssued(ark))
    throw new Error(`ARK-${product} is not self-signed`);
  if (!ask.verify(ark.publicKey) || !ask.checkIssued(ark))
    throw new Error(`ASK-${product} is not signed by its ARK`);
  return { product, ark, ask };
}

let bundled: readonly AmdRootSet[] | undefined;

/** The bundled Milan and Genoa roots (read and checked once). */
export function bundledAmdRoots(): readonly AmdRootSet[] {
  bundled ??= AMD_PRODUCTS.map((p) =>
    loadRootSet(p, readFileSync(new URL(`ask_ark_${p.toLowerCase()}.pem`, ROOTS_DIR), 'utf8')),
  );
  return bundled;
}

// ---- VCEK ----

function checkValidity(cert: X509Certificate, what: string, now: number): void {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (!(from <= now && now <= to)) {
    throw new AttestationError('expired', `${what} is valid ${cert.validFrom} .. ${cert.validTo}`, 'sev-snp');
  }
}

/** What a VCEK is, once its chain verified (independent of `now`, so it can be cached). */
function inspectVcek(der: Uint8Array, roots: readonly AmdRootSet[]): VcekInfo {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    throw new AttestationError('malformed_evidence', 'VCEK is not a DER X.509 certificate', 'sev-snp');
  }
  const root = roots.find(
    (r) => cert.issuer === r.ask.subject && cert.checkIssued(r.ask) && cert.verify(r.ask.publicKey),
  );
  if (!root) throw chainError('VCEK is not signed by a pinned AMD ASK');
  const key = cert.publicKey;
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    throw chainError('VCEK key is not ECDSA P-384');
  }
  let ext: Map<string, Uint8Array>;
  try {
    ext = certificateExtensions(cert.raw);
  } catch (e) {
    throw chainError(`VCEK extensions unreadable: ${(e as Error).message}`);
  }
  const pn = ext.get(OID_PRODUCT_NAME);
  // IA5String tag 0x16; some older certificates store the bare string.
  const productName = pn ? Buffer.from(pn[0] === 0x16 ? readTlv(pn, 0).value : pn).toString('latin1') : '';
  if (productName.split('-')[0] !== root.product) {
    throw chainError(`VCEK product "${productName}" is not ${root.product}`);
  }
  const hwid = ext.get(OID_HWID);
  if (!hwid || hwid.length !== 64) throw chainError('VCEK lacks a 64-byte hwID');
  return {
    product: root.product,
    productName,
    tcb: {
      bootloader: derInteger(ext.get(OID_BL_SPL), 'blSPL'),
      tee: derInteger(ext.get(OID_TEE_SPL), 'teeSPL'),
      snp: derInteger(ext.get(OID_SNP_SPL), 'snpSPL'),
      microcode: derInteger(ext.get(OID_UCODE_SPL), 'ucodeSPL'),
    },
    hwid: Uint8Array.from(hwid),
    publicKey: key,
    cert,
    ask: root.ask,
    ark: root.ark,
  };
}

/** Verifies VCEK ← ASK ← ARK (ARK pinned) and reads the VCEK's AMD extensions; caches by DER digest. */
export class VcekChainVerifier {
  private readonly cache = new Map<string, VcekInfo>();
  constructor(
    private readonly roots: readonly AmdRootSet[],
    private readonly maxCached = 256,
  ) {}

  verify(der: Uint8Array, now: number): VcekInfo {
    const id = createHash('sha256').update(der).digest('hex');
    let info = this.cache.get(id);
    if (!info) {
      info = inspectVcek(der, this.roots);
      if (this.cache.size >= this.maxCached) this.cache.delete(this.cache.keys().next().value ?? '');
      this.cache.set(id, info);
    }
    checkValidity(info.ark, `ARK-${info.product}`, now);
    checkValidity(info.ask, `ASK-${info.product}`, now);
    checkValidity(info.cert, 'VCEK', now);
    return info;
  }
}
