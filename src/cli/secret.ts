import { readFile, rename, writeFile } from 'node:fs/promises';
import { isScalar, parseDocument, visit } from 'yaml';
import { rewrapSealedSecret, sealSecret } from '../keys/index.js';
import { parse, UsageError } from './args.js';
import { withKeyContext } from './key-context.js';

export const SECRET_USAGE = `ztgate secret seal [--for CONFIG.PATH] [--home DIR] < value
ztgate secret rewrap [--home DIR]
  seal reads a secret from standard input (never from the command line, which others can see)
  and prints a sealed:<key-id>:<ciphertext> reference for ztgate.yaml. With --for (for example
  --for upstreams.openai.apiKey) the value opens only at that key.
  rewrap re-wraps every sealed value in ztgate.yaml under the primary version of its key.`;

const CONFIG_PATH = /^[A-Za-z0-9_.[\]-]{1,200}$/;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text.replace(/\r?\n$/, '');
}

/** `ztgate secret …`. */
export async function secretCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, { home: { type: 'string' }, for: { type: 'string' } });
  const sub = positionals[0];
  if (positionals.length !== 1 || (sub !== 'seal' && sub !== 'rewrap')) {
    throw new UsageError('expected: secret seal | secret rewrap');
  }
  if (values.for !== undefined && !CONFIG_PATH.test(values.for)) {
    throw new UsageError('--for must be a config path such as upstreams.openai.apiKey');
  }
  if (sub === 'seal') {
    if (process.stdin.isTTY) process.stderr.write('secret (end with Ctrl-D): ');
    const value = await readStdin();
    if (value === '') throw new UsageError('no secret on standard input');
    return withKeyContext(values.home, 'secret seal', async ({ service, actor }) => {
      process.stdout.write((await sealSecret(service.keys, value, actor, values.for)) + '\n');
      return 0;
    });
  }
  return withKeyContext(values.home, 'secret rewrap', async ({ service, configFile }) => {
    const document = parseDocument(await readFile(configFile, 'utf8'), { keepSourceTokens: true });
    const pending: { node: { value: unknown }; ref: string }[] = [];
    visit(document, {
      Scalar(_key, node) {
        if (isScalar(node) && typeof node.value === 'string' && node.value.startsWith('sealed:')) {
          pending.push({ node, ref: node.value });
        }
      },
    });
    let changed = 0;
    for (const item of pending) {
      const next = await rewrapSealedSecret(service.keys, item.ref);
      if (next) {
        item.node.value = next;
        changed++;
      }
    }
    if (changed > 0) {
      const temp = `${configFile}.rewrap.tmp`;
      await writeFile(temp, document.toString(), { mode: 0o600 });
      await rename(temp, configFile);
    }
    process.stdout.write(`${changed} of ${pending.length} sealed value(s) re-wrapped in ${configFile}\n`);
    return 0;
  });
}
