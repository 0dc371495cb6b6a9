/**
 * `ztgate model sign|verify`, run from the build (`npm run build` first) in a child process.
 * Until `model` is registered in src/cli/main.ts, the child imports dist/cli/model.js and calls
 * modelCommand the way main does (a UsageError exits 2); once it is registered, bin/ztgate.js is
 * used instead.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/ztgate.js', import.meta.url));
const MODEL_JS = new URL('../../dist/cli/model.js', import.meta.url).href;
const ARGS_JS = new URL('../../dist/cli/args.js', import.meta.url).href;
const VECTORS = fileURLToPath(new URL('../fixtures/model-signing/', import.meta.url));
const ENV = { ...process.env, ZTGATE_MASTER_KEY: '' };

const RUNNER = `
const { modelCommand } = await import(${JSON.stringify(MODEL_JS)});
const { UsageError } = await import(${JSON.stringify(ARGS_JS)});
try {
  process.exitCode = await modelCommand(process.argv.slice(2));
} catch (err) {
  process.stderr.write('ztgate model: ' + (err instanceof Error ? err.message : String(err)) + '\\n');
  process.exitCode = err instanceof UsageError ? 2 : 1;
}
`;

/** The runner script (a file: key providers start workers, which refuse an inherited --input-type). */
let runnerFile: string | undefined;

let registered: boolean | undefined;
function isRegistered(): boolean {
  if (registered === undefined) {
    const probe = spawnSync(process.execPath, [BIN, 'model'], { encoding: 'utf8', env: ENV });
    registered = !/unknown command "model"/.test(probe.stderr);
  }
  return registered;
}

function ztgate(args: string[], cwd?: string) {
  const result =
    args[0] === 'model' && !isRegistered()
      ? spawnSync(process.execPath, [runnerFile as string, ...args.slice(1)], {
          encoding: 'utf8',
          env: ENV,
          ...(cwd ? { cwd } : {}),
        })
      : spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: ENV, ...(cwd ? { cwd } : {}) });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('ztgate model sign and verify', () => {
  let home: string;
  let work: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'ztgate-model-cli-home-'));
    work = await mkdtemp(join(tmpdir(), 'ztgate-model-cli-'));
    runnerFile = join(work, 'run-model-command.mjs');
    await writeFile(runnerFile, RUNNER);
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  it('verifies every vector: exit 0 with a key or the chain, 1 with the code and file when tampered', async () => {
    const key = join(VECTORS, 'keys/signing-key-pub.pem');
    const ca = join(VECTORS, 'keys/ca-cert.pem');
    let r = ztgate([
      'model',
      'verify',
      join(VECTORS, 'v1.0.0-elliptic-key/signme-1'),
      '--signature',
      join(VECTORS, 'v1.0.0-elliptic-key/model.sig'),
      '--public-key',
      key,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^verified 1 item\(s\)/);
    for (const [name, trust] of [
      ['v1.0.1-elliptic-key', ['--public-key', key]],
      ['v1.0.1-certificate', ['--certificate-chain', ca]],
      ['v1.1.0-elliptic-key', ['--public-key', key]],
      ['v1.1.0-certificate', ['--certificate-chain', ca]],
    ] as const) {
      // As model_signing's own tests run it: paths relative to the vectors' folder.
      r = ztgate(
        [
          'model',
          'verify',
          `./${name}`,
          '--signature',
          `./${name}/model.sig`,
          ...trust,
          '--ignore-paths',
          `./${name}/ignore-me`,
        ],
        VECTORS,
      );
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      assert.match(r.stdout, /verified 2 item\(s\)/);
    }

    const copy = join(work, 'v1.1.0-certificate');
    await cp(join(VECTORS, 'v1.1.0-certificate'), copy, { recursive: true });
    await writeFile(join(copy, 'signme-1'), 'tampered');
    r = ztgate(['model', 'verify', copy, '--signature', join(copy, 'model.sig'), '--certificate-chain', ca]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /digest_mismatch: .*signme-1/);

    r = ztgate(['model', 'verify', copy, '--signature', join(copy, 'model.sig'), '--public-key', ca]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /key_mismatch/);

    r = ztgate([
      'model',
      'verify',
      copy,
      '--signature',
      join(copy, 'model.sig'),
      '--certificate-chain',
      join(VECTORS, 'keys/int-ca-cert.pem'),
    ]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /chain_invalid/);
  });

  it('signs with a ztgate key and verifies with its exported public key; usage errors exit 2', async () => {
    let r = ztgate(['keys', 'create', 'model-signing', '--algorithm', 'ecdsa-p384', '--home', home]);
    assert.equal(r.status, 0, r.stderr);
    r = ztgate(['keys', 'export-public', 'model-signing', '--home', home]);
    assert.equal(r.status, 0, r.stderr);
    const publicKey = join(work, 'model-signing.pub.pem');
    await writeFile(publicKey, r.stdout);

    const model = join(work, 'model');
    const verifyModel = (key: string) =>
      ztgate(['model', 'verify', model, '--signature', join(model, 'model.sig'), '--public-key', key]);
    await cp(join(VECTORS, 'v1.1.0-elliptic-key'), model, { recursive: true });
    await rm(join(model, 'model.sig'));
    r = ztgate([
      'model',
      'sign',
      model,
      '--key',
      'model-signing',
      '--ignore-paths',
      'ignore-me',
      '--home',
      home,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /signed 2 file\(s\) .* with key model-signing@1: .*model\.sig/);
    const bundle = JSON.parse(await readFile(join(model, 'model.sig'), 'utf8')) as { mediaType: string };
    assert.equal(bundle.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');

    r = verifyModel(publicKey);
    assert.equal(r.status, 0, r.stderr);

    await writeFile(join(model, 'added.bin'), 'x');
    r = verifyModel(publicKey);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /file_unexpected: .*added\.bin/);
    await rm(join(model, 'added.bin'));
    await rm(join(model, 'signme-2'));
    r = verifyModel(publicKey);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /file_missing: .*signme-2/);

    // The key in the bundle is the wrong one for another key's public half.
    r = ztgate(['keys', 'create', 'other', '--algorithm', 'ecdsa-p256', '--home', home]);
    assert.equal(r.status, 0, r.stderr);
    r = ztgate(['keys', 'export-public', 'other', '--home', home]);
    await writeFile(join(work, 'other.pem'), r.stdout);
    r = ztgate([
      'model',
      'verify',
      model,
      '--signature',
      join(model, 'model.sig'),
      '--public-key',
      join(work, 'other.pem'),
    ]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /key_mismatch/);

    r = ztgate(['model', 'sign', model, '--home', home]);
    assert.equal(r.status, 2, 'no --key');
    r = ztgate(['model', 'verify', model, '--signature', join(model, 'model.sig')]);
    assert.equal(r.status, 2, 'neither --public-key nor --certificate-chain');
    r = ztgate([
      'model',
      'verify',
      model,
      '--signature',
      'x',
      '--public-key',
      publicKey,
      '--certificate-chain',
      publicKey,
    ]);
    assert.equal(r.status, 2, 'both');
    r = ztgate(['model', 'frobnicate']);
    assert.equal(r.status, 2);
    r = ztgate(['model', 'sign', model, '--key', 'missing-key', '--home', home]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /key_not_found/);
  });
});
