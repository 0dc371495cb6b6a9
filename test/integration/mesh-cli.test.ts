import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { certificateFacts, pemCertificates } from '../../src/mesh/index.js';
import { createStore } from '../../src/store/index.js';

const BIN = fileURLToPath(new URL('../../bin/ztgate.js', import.meta.url));

function ztgate(home: string, args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args, '--home', home], {
    encoding: 'utf8',
    env: { ...process.env, ZTGATE_MASTER_KEY: '' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await allFiles(full)));
    else out.push(full);
  }
  return out;
}

/** `ztgate ca init|show|issue|revoke` through the built command (npm run build first). */
describe('ztgate ca', () => {
  let home: string;
  let out: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'ztgate-ca-cli-'));
    out = join(home, 'issued', 'vllm');
  });
  after(() => rm(home, { recursive: true, force: true }));

  it('init creates the CA with its private keys in the key provider, never on disk', async () => {
    const r = ztgate(home, ['ca', 'init', '--trust-domain', 'example.org']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /trust domain example\.org; its keys are in the local key provider/);
    assert.equal((await readFile(join(home, 'ca', 'trust-domain'), 'utf8')).trim(), 'example.org');
    for (const file of await allFiles(home)) {
      const text = await readFile(file, 'latin1');
      assert.doesNotMatch(text, /PRIVATE KEY/, `${file} holds a PEM private key`);
    }
    const keys = JSON.parse(ztgate(home, ['keys', 'list', '--json']).stdout) as {
      name: string;
      algorithm: string;
    }[];
    assert.deepEqual(
      keys
        .filter((k) => k.name.startsWith('mesh-'))
        .map((k) => `${k.name}:${k.algorithm}`)
        .sort(),
      ['mesh-intermediate-ca:ecdsa-p256', 'mesh-root-ca:ecdsa-p256'],
    );
  });

  it('the certificates verify with the public keys the key provider exports', async () => {
    const root = new X509Certificate(await readFile(join(home, 'ca', 'root.pem')));
    const intermediate = new X509Certificate(await readFile(join(home, 'ca', 'intermediate.pem')));
    const rootKey = ztgate(home, ['keys', 'export-public', 'mesh-root-ca']);
    assert.equal(rootKey.status, 0, rootKey.stderr);
    assert.equal(
      intermediate.verify(createPublicKey(rootKey.stdout)),
      true,
      'the root key signed the intermediate',
    );
    assert.equal(root.verify(createPublicKey(rootKey.stdout)), true);
    const intermediateKey = ztgate(home, ['keys', 'export-public', 'mesh-intermediate-ca']).stdout;
    assert.ok(
      createPublicKey(intermediateKey)
        .export({ type: 'spki', format: 'der' })
        .equals(intermediate.publicKey.export({ type: 'spki', format: 'der' })),
    );
    assert.equal(root.ca, true);
    assert.equal(intermediate.ca, true);
    assert.deepEqual(certificateFacts(intermediate.raw).uris, ['spiffe://example.org']);
  });

  it('init refuses to replace an existing CA', () => {
    const r = ztgate(home, ['ca', 'init']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ca_exists/);
  });

  it('show prints the trust domain and both certificates', () => {
    const r = ztgate(home, ['ca', 'show']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^trust domain: example\.org$/m);
    assert.equal(pemCertificates(r.stdout).length, 2);
    assert.match(r.stdout, /revoked serials: none/);
  });

  it('issue writes an SVID, its key (0600) and the bundle; a TLS handshake with them works', async () => {
    const r = ztgate(home, [
      'ca',
      'issue',
      '--spiffe-id',
      'spiffe://example.org/model/vllm',
      '--ttl',
      '1h',
      '--out',
      out,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const cert = await readFile(join(out, 'svid.pem'), 'utf8');
    const key = await readFile(join(out, 'svid_key.pem'), 'utf8');
    const bundle = await readFile(join(out, 'svid_bundle.pem'), 'utf8');
    assert.equal((await stat(join(out, 'svid_key.pem'))).mode & 0o777, 0o600);
    const [leaf] = pemCertificates(cert);
    const facts = certificateFacts(leaf!);
    assert.deepEqual(facts.uris, ['spiffe://example.org/model/vllm']);
    assert.equal(facts.isCa, false);
    assert.ok(Math.abs(facts.notAfter.getTime() - Date.now() - 3_600_000) < 60_000);
    assert.match(r.stdout, new RegExp(`serial ${facts.serial}`));

    const server = createServer({ cert, key }, (socket) => socket.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const socket: TLSSocket = await new Promise((resolve, reject) => {
        const s = connect({ port, host: '127.0.0.1', ca: bundle, checkServerIdentity: () => undefined }, () =>
          resolve(s),
        );
        s.on('error', reject);
      });
      assert.equal(socket.authorized, true);
      assert.deepEqual(certificateFacts(socket.getPeerCertificate().raw).uris, [
        'spiffe://example.org/model/vllm',
      ]);
      socket.destroy();
    } finally {
      server.close();
    }
  });

  it('issue refuses an ID of another trust domain, and a bad ttl', () => {
    let r = ztgate(home, [
      'ca',
      'issue',
      '--spiffe-id',
      'spiffe://other.org/model/x',
      '--out',
      join(home, 'x'),
    ]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /spiffe_id_invalid/);
    r = ztgate(home, [
      'ca',
      'issue',
      '--spiffe-id',
      'spiffe://example.org/model/x',
      '--ttl',
      '5y',
      '--out',
      out,
    ]);
    assert.equal(r.status, 2);
  });

  it('revoke records the serial in revoked.json; show lists it; every CA operation is audited', async () => {
    const serial = certificateFacts(
      pemCertificates(await readFile(join(out, 'svid.pem'), 'utf8'))[0]!,
    ).serial;
    let r = ztgate(home, ['ca', 'revoke', serial.toLowerCase(), '--reason', 'test']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`revoked ${serial}`));
    const file = JSON.parse(await readFile(join(home, 'ca', 'revoked.json'), 'utf8')) as {
      revoked: { serial: string; reason?: string }[];
    };
    assert.deepEqual(
      file.revoked.map((e) => [e.serial, e.reason]),
      [[serial, 'test']],
    );
    r = ztgate(home, ['ca', 'revoke', serial]);
    assert.match(r.stdout, /already revoked/);
    assert.match(ztgate(home, ['ca', 'show']).stdout, new RegExp(`revoked serials: ${serial}`));
    assert.equal(ztgate(home, ['ca', 'revoke', 'not-hex']).status, 2);

    const store = await createStore({ url: 'sqlite:ztgate.db', home });
    try {
      const rows = (await store.audit.list()).map((row) => row.entry).filter((e) => e.phase === 'control');
      const actions = rows.map((e) => `${e.action} ${e.target}`);
      assert.ok(actions.includes('keys.create key:mesh-root-ca@1'));
      assert.ok(actions.includes('keys.create key:mesh-intermediate-ca@1'));
      assert.ok(actions.includes('ca.init ca:spiffe://example.org'));
      assert.ok(actions.includes(`ca.issue svid:spiffe://example.org/model/vllm#${serial}`));
      assert.ok(actions.includes(`ca.revoke certificate:${serial}`));
      assert.equal(actions.filter((a) => a.startsWith('ca.revoke')).length, 1);
    } finally {
      await store.close();
    }
  });
});
