import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from './errors.js';

/** Opens a `sealed:` reference found at config path `where` (the key layer's unsealSecret). */
export type Unsealer = (ref: string, where: string) => Promise<string>;

/**
 * Resolves a secret reference (`env:NAME`, `file:PATH` or `sealed:<key-id>:<ciphertext>`) to its
 * value at start. The value is returned to the caller only; it is never logged, and error
 * messages name the reference kind and key, not the value. Missing secrets stop the start (fail
 * closed).
 */
export async function resolveSecret(
  ref: string,
  where: string,
  home: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
  unseal?: Unsealer,
): Promise<string> {
  if (ref.startsWith('sealed:')) {
    if (!unseal) throw new ConfigError([`${where}: a sealed secret cannot be opened here (no key provider)`]);
    try {
      return await unseal(ref, where);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new ConfigError([
        `${where}: the sealed secret cannot be opened (${typeof code === 'string' ? code : 'error'}): ${
          err instanceof Error ? err.message : 'unknown error'
        }`,
      ]);
    }
  }
  if (ref.startsWith('env:')) {
    const name = ref.slice(4);
    const value = env[name];
    if (value === undefined || value === '') {
      throw new ConfigError([`${where}: environment variable ${name} is not set`]);
    }
    return value;
  }
  if (ref.startsWith('file:')) {
    const path = ref.slice(5);
    const full = isAbsolute(path) ? path : resolve(home, path);
    try {
      const info = await stat(full);
      if (!info.isFile()) throw new ConfigError([`${where}: ${full} is not a file`]);
      return (await readFile(full, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError([
        `${where}: cannot read ${full}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      ]);
    }
  }
  throw new ConfigError([`${where}: not a secret reference (use env:NAME, file:PATH or sealed:…)`]);
}
