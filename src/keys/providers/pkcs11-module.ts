/**
 * Loading a PKCS#11 module, finding its token and logging in, shared by every provider in the
 * process. A module can be initialised only once per process (a second C_Initialize fails with
 * CKR_CRYPTOKI_ALREADY_INITIALIZED) and the login state is per application and token, not per
 * session (C_Logout in one session logs out all of them), so both are reference counted here.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { resolve } from 'node:path';
import pkcs11js from 'pkcs11js';
import type { Handle, PKCS11 } from 'pkcs11js';
import { KeyError } from '../errors.js';

export interface Pkcs11Module {
  readonly lib: PKCS11;
  readonly path: string;
}

interface Login {
  refs: number;
  /** HMAC of the PIN that logged in: a PIN is checked against it when the token is already logged in. */
  readonly pinMac: Buffer;
}

interface ModuleEntry extends Pkcs11Module {
  refs: number;
  /** False when someone else in this process had already initialised the module: we never finalize it. */
  readonly ownsInit: boolean;
  readonly logins: Map<string, Login>;
}

const modules = new Map<string, ModuleEntry>();
const PIN_MAC_KEY = randomBytes(32);
/** CK_STATE values of sessions in which the user is not logged in. */
const CKS_RO_PUBLIC_SESSION = 0;
const CKS_RW_PUBLIC_SESSION = 2;

const PIN_REFUSED = new Set([
  pkcs11js.CKR_PIN_INCORRECT,
  pkcs11js.CKR_PIN_LOCKED,
  pkcs11js.CKR_PIN_INVALID,
  pkcs11js.CKR_PIN_LEN_RANGE,
  pkcs11js.CKR_PIN_EXPIRED,
]);
/** CK_RVs that say the token, or our session with it, is gone. */
export const TOKEN_GONE: ReadonlySet<number> = new Set([
  pkcs11js.CKR_TOKEN_NOT_PRESENT,
  pkcs11js.CKR_TOKEN_NOT_RECOGNIZED,
  pkcs11js.CKR_DEVICE_REMOVED,
  pkcs11js.CKR_SLOT_ID_INVALID,
  pkcs11js.CKR_SESSION_CLOSED,
  pkcs11js.CKR_SESSION_HANDLE_INVALID,
]);

/** The CK_RV of a pkcs11js error, or undefined for anything else. */
export function ckrOf(err: unknown): number | undefined {
  return err instanceof pkcs11js.Pkcs11Error ? err.code : undefined;
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Maps any error of a token call to a KeyError with a stable code. `what` names the operation. */
export function hsmError(err: unknown, what: string): KeyError {
  if (err instanceof KeyError) return err;
  const rv = ckrOf(err);
  const reason = reasonOf(err);
  if (rv !== undefined && PIN_REFUSED.has(rv)) {
    return new KeyError('hsm_pin_incorrect', `${what}: the token refused the PIN (${reason})`, {
      cause: err,
    });
  }
  if (rv !== undefined && TOKEN_GONE.has(rv)) {
    return new KeyError('hsm_token_absent', `${what}: the token is no longer present (${reason})`, {
      cause: err,
    });
  }
  return new KeyError('hsm_error', `${what}: ${reason}`, { cause: err });
}

/** Loads and initialises the module at `modulePath`, or shares the copy already loaded. */
export function acquireModule(modulePath: string): Pkcs11Module {
  const path = resolve(modulePath);
  const existing = modules.get(path);
  if (existing) {
    existing.refs += 1;
    return existing;
  }
  const lib = new pkcs11js.PKCS11();
  try {
    lib.load(path);
  } catch (err) {
    throw new KeyError('hsm_module_missing', `cannot load the PKCS#11 module ${path}: ${reasonOf(err)}`, {
      cause: err,
    });
  }
  let ownsInit = true;
  try {
    lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (err) {
    if (ckrOf(err) !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      throw hsmError(err, `cannot initialise the PKCS#11 module ${path}`);
    }
    ownsInit = false;
  }
  const entry: ModuleEntry = { lib, path, refs: 1, ownsInit, logins: new Map() };
  modules.set(path, entry);
  return entry;
}

/** Drops one reference; the last one finalizes the module (when this process initialised it). */
export function releaseModule(module: Pkcs11Module): void {
  const entry = modules.get(module.path);
  if (entry !== module || entry.refs <= 0) return;
  entry.refs -= 1;
  if (entry.refs > 0) return;
  modules.delete(entry.path);
  if (!entry.ownsInit) return;
  try {
    entry.lib.C_Finalize();
    entry.lib.close();
  } catch {
    // Nothing useful to do when finalizing fails at shutdown.
  }
}

/** The slot id a handle stands for (pkcs11js passes CK_ULONG handles as little-endian buffers). */
export function slotIdOf(handle: Handle): bigint {
  let id = 0n;
  for (let i = handle.length - 1; i >= 0; i -= 1) id = (id << 8n) | BigInt(handle[i] ?? 0);
  return id;
}

/** Finds the token by label or slot id; `hsm_token_absent` when there is none. */
export function findToken(
  module: Pkcs11Module,
  select: { readonly tokenLabel?: string; readonly slot?: number },
): { slot: Handle; label: string } {
  let slots: Handle[];
  try {
    slots = module.lib.C_GetSlotList(true);
  } catch (err) {
    throw hsmError(err, 'cannot list the slots of the PKCS#11 module');
  }
  for (const slot of slots) {
    if (select.slot !== undefined && slotIdOf(slot) !== BigInt(select.slot)) continue;
    let label: string;
    try {
      label = module.lib.C_GetTokenInfo(slot).label.trimEnd();
    } catch (err) {
      throw hsmError(err, `cannot read the token in slot ${slotIdOf(slot)}`);
    }
    if (select.tokenLabel === undefined || label === select.tokenLabel) return { slot, label };
  }
  const which =
    select.tokenLabel !== undefined ? `labelled "${select.tokenLabel}"` : `in slot ${select.slot}`;
  throw new KeyError('hsm_token_absent', `no PKCS#11 token ${which} in ${module.path}`);
}

function pinMac(pin: string): Buffer {
  return createHmac('sha256', PIN_MAC_KEY).update(pin).digest();
}

function logIn(lib: PKCS11, session: Handle, pin: string): void {
  try {
    lib.C_Login(session, pkcs11js.CKU_USER, pin);
  } catch (err) {
    if (ckrOf(err) !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw err;
  }
}

/**
 * Opens a read-write session on `slot` and logs the user in. When another session of this process
 * is already logged in to the token, the token would answer CKR_USER_ALREADY_LOGGED_IN without
 * checking the PIN, so the PIN is compared with the one that logged in instead. (A login made
 * outside this registry, by other code in the process, cannot be checked that way.)
 */
export function openUserSession(module: Pkcs11Module, slot: Handle, pin: string): Handle {
  const entry = modules.get(module.path);
  if (entry !== module) throw new KeyError('provider_closed', 'the PKCS#11 module was released');
  const { lib } = module;
  let session: Handle;
  try {
    session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  } catch (err) {
    throw hsmError(err, 'cannot open a session on the token');
  }
  const key = slot.toString('hex');
  const mac = pinMac(pin);
  try {
    const login = entry.logins.get(key);
    if (login) {
      if (!timingSafeEqual(login.pinMac, mac)) {
        throw new KeyError('hsm_pin_incorrect', 'the token refused the PIN (it differs from the PIN in use)');
      }
      // The token may have logged out behind our back (all its sessions closed by a reset).
      const { state } = lib.C_GetSessionInfo(session);
      if (state === CKS_RO_PUBLIC_SESSION || state === CKS_RW_PUBLIC_SESSION) logIn(lib, session, pin);
      login.refs += 1;
    } else {
      logIn(lib, session, pin);
      entry.logins.set(key, { refs: 1, pinMac: mac });
    }
    return session;
  } catch (err) {
    try {
      lib.C_CloseSession(session);
    } catch {
      // The login error is the one to report.
    }
    throw hsmError(err, 'cannot log in to the token');
  }
}

/**
 * Closes a session from openUserSession; the last one on the token logs out. `handleGone`: the
 * token already dropped the session (CKR_SESSION_HANDLE_INVALID): only its login reference is
 * released, since the token may have handed the same handle to a newer session.
 */
export function closeUserSession(
  module: Pkcs11Module,
  slot: Handle,
  session: Handle,
  handleGone = false,
): void {
  const entry = modules.get(module.path);
  const key = slot.toString('hex');
  const login = entry?.logins.get(key);
  try {
    if (login && entry) {
      login.refs -= 1;
      if (login.refs <= 0) {
        entry.logins.delete(key);
        if (!handleGone) module.lib.C_Logout(session);
      }
    }
  } catch {
    // Closing the last session logs out anyway.
  }
  if (handleGone) return;
  try {
    module.lib.C_CloseSession(session);
  } catch {
    // Already closed (token removed): nothing left to release.
  }
}
