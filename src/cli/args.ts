import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A usage error: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(
  args: readonly string[],
  options: T,
) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

export function portArg(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535)
    throw new UsageError(`${name} must be a port number 0-65535`);
  return Number(value);
}

/**
 * Reads options that take several values the way model_signing's CLI does: `--opt a b` becomes
 * `--opt a --opt b` (values run until the next argument that starts with `-`).
 */
export function expandMultiValues(args: readonly string[], options: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    out.push(arg);
    if (!options.has(arg)) continue;
    let j = i + 1;
    for (let taken = 0; j < args.length && !(args[j] as string).startsWith('-'); j++, taken++) {
      if (taken > 0) out.push(arg);
      out.push(args[j] as string);
    }
    i = j - 1;
  }
  return out;
}
