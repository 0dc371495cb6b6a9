import { createPublicKey, X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyManager } from '../keys/index.js';
import { randomSerial, signCertificate, type CertificateTemplate } from './cert-signer.js';
import { MeshError } from './errors.js';
import { writeFileAtomic } from './files.js';
import { parseSpiffeId, parseTrustDomain, type SpiffeId } from './spiffe.js';
import {
  BACKDATE_MS,
  keyIdentifier,
  svidExtensions,
  type IssuedCertificate,
  type SvidIssuer,
} from './svid.js';
import { certificateFacts, derToPem, normalizeSerial, pemCertificates, x509 } from './x509.js';

/** The CA's signing keys, by name in the key provider. Their private parts never leave it. */
export const ROOT_KEY_NAME = 'mesh-root-ca';
export const INTERMEDIATE_KEY_NAME = 'mesh-intermediate-ca';
const YEAR_MS = 365 * 86_400_000;
const ROOT_TTL_MS = 10 * YEAR_MS;
const INTERMEDIATE_TTL_MS = 5 * YEAR_MS;

/** Where the CA's public material lives in the home directory. */
export interface CaPaths {
  readonly dir: string;
  readonly root: string;
  readonly intermediate: string;
  readonly trustDomain: string;
  readonly revoked: string;
}

export function caPaths(home: string): CaPaths {
  const dir = join(home, 'ca');
  return {
    dir,
    root: join(dir, 'root.pem'),
    intermediate: join(dir, 'intermediate.pem'),
    trustDomain: join(dir, 'trust-domain'),
    revoked: join(dir, 'revoked.json'),
  };
}

/** A CA key's current (primary) version and its public key, read from the key provider. */
interface CaKey {
  readonly name: string;
  readonly version: number;
  readonly publicKey: KeyObject;
  readonly spki: Buffer;
}

async function caKey(keys: KeyManager, name: string): Promise<CaKey> {
  const info = await keys.describeKey(name);
  if (info.algorithm !== 'ecdsa-p256') {
    throw new MeshError('ca_invalid', `key ${name} is ${info.algorithm}; the CA needs ecdsa-p256`);
  }
  const exported = await keys.provider.publicKey({ name, version: info.primaryVersion });
  const publicKey = createPublicKey(exported.spkiPem);
  return {
    name,
    version: info.primaryVersion,
    publicKey,
    spki: publicKey.export({ type: 'spki', format: 'der' }),
  };
}

/** Signs with the key's version the certificate was made for, never a newer one. */
function signer(keys: KeyManager, key: CaKey) {
  return async (tbs: Uint8Array): Promise<Uint8Array> => {
    const { keyId, signature } = await keys.sign(key.name, tbs);
    if (keyId.version !== key.version) {
      throw new MeshError(
        'ca_invalid',
        `key ${key.name} was rotated to version ${keyId.version}; the CA certificate is for version ${key.version}`,
      );
    }
    return signature;
  };
}

function caExtensions(trustDomain: string, pathLength: number, ski: string, aki: string): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    // A signing certificate SHOULD be an SVID itself, with the trust domain's ID (no path).
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${trustDomain}` }], false),
    new x509.SubjectKeyIdentifierExtension(ski),
    new x509.AuthorityKeyIdentifierExtension(aki),
  ];
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new MeshError(
        'ca_not_initialized',
        `no built-in CA in this home (${path} is missing): run ztgate ca init`,
      );
    }
    throw new MeshError(
      'ca_invalid',
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

function onePem(text: string, path: string): Buffer {
  const certs = pemCertificates(text);
  if (certs.length !== 1 || !certs[0])
    throw new MeshError('ca_invalid', `${path} must hold exactly one certificate`);
  return certs[0];
}

/**
 * The built-in CA: a root and an intermediate whose private keys live in the key provider
 * (`mesh-root-ca`, `mesh-intermediate-ca`, ecdsa-p256). Certificates are public and kept in
 * `<home>/ca/`. The intermediate issues workload SVIDs; the root only signed the intermediate.
 */
export class BuiltInCa implements SvidIssuer {
  private constructor(
    private readonly keys: KeyManager,
    readonly trustDomain: string,
    readonly root: Buffer,
    readonly intermediate: Buffer,
    private readonly intermediateKey: CaKey,
    private readonly intermediateKeyId: string,
  ) {}

  get bundlePem(): string {
    return derToPem(this.root);
  }

  get intermediatePem(): string {
    return derToPem(this.intermediate);
  }

  static async exists(home: string): Promise<boolean> {
    return stat(caPaths(home).root).then(
      () => true,
      () => false,
    );
  }

  /** Creates the CA keys in the key provider and the two certificates. Refuses when a CA exists. */
  static async init(keys: KeyManager, home: string, trustDomain: string, actor: string): Promise<BuiltInCa> {
    parseTrustDomain(trustDomain);
    const paths = caPaths(home);
    if (await BuiltInCa.exists(home)) throw new MeshError('ca_exists', `a CA already exists in ${paths.dir}`);
    await keys.ensureKey(ROOT_KEY_NAME, 'ecdsa-p256', actor);
    await keys.ensureKey(INTERMEDIATE_KEY_NAME, 'ecdsa-p256', actor);
    const rootKey = await caKey(keys, ROOT_KEY_NAME);
    const intermediateKey = await caKey(keys, INTERMEDIATE_KEY_NAME);
    const rootKeyId = await keyIdentifier(rootKey.spki);
    const intermediateKeyId = await keyIdentifier(intermediateKey.spki);
    const now = Date.now();
    const rootName = `CN=ztgate mesh root CA, O=${trustDomain}`;
    const root = await signCertificate(
      {
        subject: rootName,
        issuer: rootName,
        serial: randomSerial(),
        notBefore: new Date(now - BACKDATE_MS),
        notAfter: new Date(now + ROOT_TTL_MS),
        publicKey: rootKey.spki,
        extensions: caExtensions(trustDomain, 1, rootKeyId, rootKeyId),
      },
      signer(keys, rootKey),
      rootKey.publicKey,
    );
    const intermediate = await signCertificate(
      {
        subject: `CN=ztgate mesh intermediate CA, O=${trustDomain}`,
        issuer: new x509.X509Certificate(root).subjectName,
        serial: randomSerial(),
        notBefore: new Date(now - BACKDATE_MS),
        notAfter: new Date(now + INTERMEDIATE_TTL_MS),
        publicKey: intermediateKey.spki,
        extensions: caExtensions(trustDomain, 0, intermediateKeyId, rootKeyId),
      },
      signer(keys, rootKey),
      rootKey.publicKey,
    );
    await mkdir(paths.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(paths.trustDomain, `${trustDomain}\n`, 0o644);
    await writeFileAtomic(paths.intermediate, derToPem(intermediate), 0o644);
    // The root is written last: its presence is what marks the CA as initialised.
    await writeFileAtomic(paths.root, derToPem(root), 0o644);
    return new BuiltInCa(keys, trustDomain, root, intermediate, intermediateKey, intermediateKeyId);
  }

  /** Loads the CA and checks that its certificates and its keys in the key provider match. */
  static async load(keys: KeyManager, home: string): Promise<BuiltInCa> {
    const paths = caPaths(home);
    const rootPem = await readText(paths.root);
    const trustDomain = parseTrustDomain((await readText(paths.trustDomain)).trim());
    const root = onePem(rootPem, paths.root);
    const intermediate = onePem(await readText(paths.intermediate), paths.intermediate);
    const rootCert = new NodeX509(root);
    const intermediateCert = new NodeX509(intermediate);
    if (!rootCert.verify(rootCert.publicKey) || !intermediateCert.verify(rootCert.publicKey)) {
      throw new MeshError('ca_invalid', `${paths.intermediate} is not signed by ${paths.root}`);
    }
    const intermediateKey = await caKey(keys, INTERMEDIATE_KEY_NAME);
    const certSpki = intermediateCert.publicKey.export({ type: 'spki', format: 'der' });
    if (!certSpki.equals(intermediateKey.spki)) {
      throw new MeshError(
        'ca_invalid',
        `the intermediate certificate is not for ${INTERMEDIATE_KEY_NAME}@${intermediateKey.version} (was the key rotated?)`,
      );
    }
    const keyId = await keyIdentifier(intermediateKey.spki);
    return new BuiltInCa(keys, trustDomain, root, intermediate, intermediateKey, keyId);
  }

  /**
   * Signs a leaf certificate with the intermediate key. `issueSvid` is the normal way; this lower
   * level exists for tools and tests that need other extensions or dates.
   */
  async signLeaf(template: Omit<CertificateTemplate, 'issuer'>): Promise<IssuedCertificate> {
    const der = await signCertificate(
      { ...template, issuer: new x509.X509Certificate(this.intermediate).subjectName },
      signer(this.keys, this.intermediateKey),
      this.intermediateKey.publicKey,
    );
    const facts = certificateFacts(der);
    return {
      certificate: der,
      chain: [der, this.intermediate],
      serial: normalizeSerial(facts.serial),
      notBefore: facts.notBefore,
      notAfter: facts.notAfter,
    };
  }

  /** Issues an X.509-SVID for `publicKey` as `id`, valid for `ttlMs` (never past the intermediate). */
  async issueSvid(id: SpiffeId, publicKey: KeyObject, ttlMs: number): Promise<IssuedCertificate> {
    const checked = parseSpiffeId(id.id);
    if (checked.trustDomain !== this.trustDomain || checked.path === '') {
      throw new MeshError(
        'spiffe_id_invalid',
        `${id.id} is not a workload ID in trust domain ${this.trustDomain}`,
      );
    }
    const now = Date.now();
    const limit = new NodeX509(this.intermediate).validTo;
    const notAfter = Math.min(now + ttlMs, Date.parse(limit));
    if (notAfter <= now)
      throw new MeshError('svid_issue_failed', 'the intermediate CA certificate has expired');
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    return this.signLeaf({
      subject: `O=ztgate, OU=${this.trustDomain}`,
      serial: randomSerial(),
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(notAfter),
      publicKey: spki,
      extensions: await svidExtensions(checked, spki, this.intermediateKeyId),
    });
  }
}
