import { randomBytes } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { KeyError } from '../errors.js';

/** The environment variable that holds the master key (base64 or hex of 32 bytes). */
export const MASTER_KEY_ENV = 'ZTGATE_MASTER_KEY';

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const BASE64_KEY = /^[A-Za-z0-9+/_-]{43}=?$/;

function decodeMasterKey(text: string, where: string): Buffer {
  const trimmed = text.trim();
  if (HEX_KEY.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (BASE64_KEY.test(trimmed)) return Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  throw new KeyError('master_key_invalid', `${where} must hold 32 bytes as base64 or 64 hex digits`);
}

/**
 * Refuses a key file that anyone but its owner may read or write: the local provider is only as
 * safe as this file's permissions.
 */
export async function assertPrivateFile(path: string): Promise<void> {
  const info = await stat(path);
  if (!info.isFile()) throw new KeyError('keystore_insecure', `${path} is not a regular file`);
  if ((info.mode & 0o077) !== 0) {
    throw new KeyError(
      'keystore_insecure',
      `${path} is readable or writable by others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 ${path}`,
    );
  }
}

/**
 * The master key: from ZTGATE_MASTER_KEY when set, else from `file`, which is created (mode
 * 0600, 32 random bytes) when it does not exist yet.
 */
export async function loadMasterKey(
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ key: Buffer; source: 'env' | 'file'; created: boolean }> {
  const fromEnv = env[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    return { key: decodeMasterKey(fromEnv, MASTER_KEY_ENV), source: 'env', created: false };
  }
  let created = false;
  try {
    const handle = await open(file, 'wx', 0o600);
    try {
      await handle.writeFile(randomBytes(32).toString('base64') + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new KeyError(
        'master_key_invalid',
        `cannot create the master key file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  }
  await assertPrivateFile(file);
  return { key: decodeMasterKey(await readFile(file, 'utf8'), file), source: 'file', created };
}
