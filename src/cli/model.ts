import { readFile } from 'node:fs/promises';
import {
  certificatesFromPem,
  isModelSigningError,
  keyManagerSigningKeys,
  keyProviderSigner,
  resolveIgnorePath,
  signModel,
  verifyModel,
  type ModelTrust,
} from '../runtime/model-signing/index.js';
import { parse, UsageError, expandMultiValues } from './args.js';
import { withKeyContext } from './key-context.js';

export const MODEL_USAGE = `ztgate model sign DIR --key KEY-ID [--output FILE] [--ignore-paths P…] [--allow-symlinks]
    [--shard-size BYTES] [--certificate-chain PEM…] [--home DIR]
ztgate model verify DIR --signature FILE (--public-key PEM | --certificate-chain PEM…) [--ignore-paths P…]
  Sign or verify a model directory (or a single file) in the OpenSSF model-signing format: a
  Sigstore bundle v0.3 with a DSSE envelope over an in-toto statement of every file's SHA-256.
  sign uses the primary version of KEY-ID (ecdsa-p256 or ecdsa-p384 for model_signing
  compatibility; ed25519 verifies with ztgate only) and writes DIR/model.sig by default; the
  signature file and git files are always left out; --certificate-chain records the signing
  certificate (first) and its chain instead of the key hint.
  verify exits 0 only when the signature and every file verify; otherwise 1 and one of
  signature_invalid, digest_mismatch, file_missing, file_unexpected, payload_malformed,
  key_mismatch, chain_invalid, path_refused with the files at fault. A certificate chain is
  checked at the signing certificate's notBefore (no timestamp authority), as model_signing does.`;

/** Options that take several values: `--ignore-paths a b` is read as `--ignore-paths a --ignore-paths b`. */
const MULTI = new Set(['--ignore-paths', '--certificate-chain']);

function modelArg(positionals: readonly string[], sub: string): string {
  const dir = positionals[1];
  if (!dir || positionals.length !== 2) {
    throw new UsageError(`model ${sub} takes one DIR (put it before options that take several values)`);
  }
  return dir;
}

function ignorePaths(dir: string, values: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const value of values ?? []) {
    const resolved = resolveIgnorePath(dir, value);
    if (resolved === undefined) throw new UsageError(`--ignore-paths ${value} is not inside ${dir}`);
    out.push(resolved);
  }
  return out;
}

async function readPems(paths: readonly string[]): Promise<string[]> {
  return Promise.all(paths.map((p) => readFile(p, 'utf8')));
}

function fail(command: string, err: unknown): number {
  if (isModelSigningError(err)) {
    process.stderr.write(`ztgate ${command}: ${err.code}: ${err.message}\n`);
    return 1;
  }
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`ztgate ${command}: ${typeof code === 'string' ? `${code}: ` : ''}${message}\n`);
  return 1;
}

async function sign(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    key: { type: 'string' },
    output: { type: 'string' },
    'ignore-paths': { type: 'string', multiple: true },
    'allow-symlinks': { type: 'boolean' },
    'shard-size': { type: 'string' },
    'certificate-chain': { type: 'string', multiple: true },
    home: { type: 'string' },
  });
  const dir = modelArg(positionals, 'sign');
  if (!values.key) throw new UsageError('model sign needs --key KEY-ID');
  const keyName = values.key;
  let shardSize: number | undefined;
  if (values['shard-size'] !== undefined) {
    if (!/^[1-9]\d{0,15}$/.test(values['shard-size']))
      throw new UsageError('--shard-size must be a positive integer');
    shardSize = Number(values['shard-size']);
  }
  const ignored = ignorePaths(dir, values['ignore-paths']);
  const chainFiles = values['certificate-chain'] ?? [];
  let certificates: Buffer[] | undefined;
  if (chainFiles.length > 0) {
    try {
      certificates = certificatesFromPem(await readPems(chainFiles));
    } catch (err) {
      return fail('model sign', err);
    }
    if (certificates.length === 0) throw new UsageError('--certificate-chain holds no PEM certificate');
  }
  return withKeyContext(values.home, 'model sign', async ({ service, actor }) => {
    try {
      const signer = await keyProviderSigner(keyManagerSigningKeys(service.keys, actor), keyName);
      const signed = await signModel(dir, {
        signer,
        ignorePaths: ignored,
        allowSymlinks: values['allow-symlinks'] ?? false,
        ...(shardSize !== undefined ? { method: 'shards' as const, shardSize } : {}),
        ...(values.output !== undefined ? { output: values.output } : {}),
        ...(certificates ? { certificates } : {}),
      });
      process.stdout.write(
        `signed ${signed.manifest.items.length} ${signed.manifest.serialization.method === 'shards' ? 'shard(s)' : 'file(s)'}` +
          ` of ${dir} with ${signer.description}: ${signed.output}\n`,
      );
      return 0;
    } catch (err) {
      return fail('model sign', err);
    }
  });
}

async function verify(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    signature: { type: 'string' },
    'public-key': { type: 'string' },
    'certificate-chain': { type: 'string', multiple: true },
    'ignore-paths': { type: 'string', multiple: true },
  });
  const dir = modelArg(positionals, 'verify');
  if (!values.signature) throw new UsageError('model verify needs --signature FILE');
  const chainFiles = values['certificate-chain'] ?? [];
  if ((values['public-key'] === undefined) === (chainFiles.length === 0)) {
    throw new UsageError('model verify needs exactly one of --public-key PEM or --certificate-chain PEM…');
  }
  const ignored = ignorePaths(dir, values['ignore-paths']);
  try {
    const trust: ModelTrust =
      values['public-key'] !== undefined
        ? { publicKey: await readFile(values['public-key'], 'utf8') }
        : { certificateChain: await readPems(chainFiles) };
    const result = await verifyModel(dir, values.signature, { trust, ignorePaths: ignored });
    const signer =
      result.signer.kind === 'public-key'
        ? `public key ${result.signer.hint.slice(0, 16)}…`
        : `certificate ${result.signer.subjects[0] ?? ''} (chain to ${result.signer.subjects.at(-1) ?? ''})`;
    process.stdout.write(
      `verified ${result.manifest.items.length} item(s) of ${dir} (model ${result.modelName}, sha256:${result.rootDigest}) signed by ${signer}\n`,
    );
    return 0;
  } catch (err) {
    return fail('model verify', err);
  }
}

/** `ztgate model …`. */
export async function modelCommand(args: readonly string[]): Promise<number> {
  const expanded = expandMultiValues(args, MULTI);
  switch (expanded[0]) {
    case 'sign':
      return sign(expanded);
    case 'verify':
      return verify(expanded);
    default:
      throw new UsageError('expected: model sign|verify');
  }
}
