/**
 * A private SoftHSM2 for tests: a softhsm2.conf and token directory in a temp dir, tokens made with
 * softhsm2-util. SoftHSM reads SOFTHSM2_CONF and scans its tokens once, at C_Initialize: every
 * createSoftHsm of a test process shares one conf, and tokens must be created before the first
 * provider opens (create them at the top of the test file, not inside a test).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsm {
  /** The softhsm2.conf shared by all tokens of this process. */
  readonly conf: string;
  readonly dir: string;
  readonly tokenLabel: string;
  /** The user PIN (random). */
  readonly pin: string;
  readonly modulePath: string;
  /** The last cleanup of the process deletes the temp dir with every token. */
  cleanup(): void;
}

let shared: { dir: string; conf: string; users: number } | undefined;
let counter = 0;

function setup(): { dir: string; conf: string; users: number } {
  if (shared) return shared;
  const dir = mkdtempSync(join(tmpdir(), 'ztgate-softhsm-'));
  mkdirSync(join(dir, 'tokens'), { mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    [
      `directories.tokendir = ${join(dir, 'tokens')}`,
      'objectstore.backend = file',
      'log.level = ERROR',
      '',
    ].join('\n'),
  );
  process.env.SOFTHSM2_CONF = conf;
  shared = { dir, conf, users: 0 };
  return shared;
}

/** Initialises a new token (label at most 32 characters) in this process's SoftHSM. */
export function createSoftHsm(label = `ztgate-test-${process.pid}-${++counter}`): SoftHsm {
  const state = setup();
  const pin = randomBytes(8).toString('hex');
  const soPin = randomBytes(8).toString('hex');
  execFileSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', pin],
    { env: { ...process.env, SOFTHSM2_CONF: state.conf }, stdio: 'pipe' },
  );
  state.users += 1;
  let cleaned = false;
  return {
    conf: state.conf,
    dir: state.dir,
    tokenLabel: label,
    pin,
    modulePath: SOFTHSM_MODULE,
    cleanup() {
      if (cleaned) return;
      cleaned = true;
      state.users -= 1;
      if (state.users > 0) return;
      rmSync(state.dir, { recursive: true, force: true });
      shared = undefined;
    },
  };
}
