import { ConfigError, defaultHome, homePaths, loadConfigFile } from '../config/index.js';
import { parse, UsageError } from './args.js';

export const CONFIG_USAGE = `ztgate config check [--home DIR] [--file PATH]
  Validates ztgate.yaml (and the ZTGATE_* overrides) without starting anything.`;

/** `ztgate config check`: exit 0 when valid, 2 with every problem listed when not. */
export async function configCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, { home: { type: 'string' }, file: { type: 'string' } });
  if (positionals[0] !== 'check' || positionals.length !== 1) throw new UsageError('expected: config check');
  const file = values.file ?? homePaths(values.home ?? defaultHome()).config;
  try {
    await loadConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ztgate: ${file}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  process.stdout.write(`${file}: valid\n`);
  return 0;
}
