import { stringify } from 'yaml';
import { ConfigError, defaultHome, homePaths, loadConfigFile, type ZtgateConfig } from '../config/index.js';
import { parse, UsageError } from './args.js';

export const CONFIG_USAGE = `ztgate config check [--home DIR] [--file PATH]
ztgate config show [--home DIR] [--file PATH]
  check validates ztgate.yaml (and the ZTGATE_* overrides) without starting anything; show prints
  the effective configuration with every default filled in. Secrets appear only as references
  (env:NAME, file:PATH, sealed:<key-id>:…); show never resolves or opens them.`;

const SEALED = /^(sealed:[a-z0-9-]+@[0-9]+:)[A-Za-z0-9_-]+$/;

/** The config with sealed ciphertexts shortened; env:/file: references name where a secret is, not what. */
function showable(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(SEALED, '$1…');
  if (Array.isArray(value)) return value.map(showable);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, showable(v)]));
  }
  return value;
}

/** `ztgate config check|show`: exit 0 when valid, 2 with every problem listed when not. */
export async function configCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, { home: { type: 'string' }, file: { type: 'string' } });
  const sub = positionals[0];
  if ((sub !== 'check' && sub !== 'show') || positionals.length !== 1) {
    throw new UsageError('expected: config check | config show');
  }
  const file = values.file ?? homePaths(values.home ?? defaultHome()).config;
  let config: ZtgateConfig;
  try {
    config = await loadConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ztgate: ${file}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (sub === 'show') process.stdout.write(stringify(showable(config)));
  else process.stdout.write(`${file}: valid\n`);
  return 0;
}
