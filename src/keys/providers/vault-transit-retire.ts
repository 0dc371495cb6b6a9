/**
 * How the vault-transit provider disables, enables and destroys versions with Vault's floors, which
 * only allow oldest-first changes. Each plan is the body of POST /v1/:mount/keys/:name/config
 * (https://developer.hashicorp.com/vault/api-docs/secret/transit#update-key-configuration) and, for
 * destroy, the `min_available_version` of POST /v1/:mount/keys/:name/trim (#trim-key), respecting the
 * checks of hashicorp/vault builtin/logical/transit/path_keys_config.go and path_trim.go:
 * - min_encryption_version is 0 or ≥ min_decryption_version;
 * - neither floor may drop below min_available_version once a key was trimmed;
 * - trim needs both floors non-zero and ≥ the new min_available_version.
 */
import { KeyError } from '../errors.js';
import { formatKeyRef } from '../key-id.js';
import type { KeyRef } from '../types.js';
import type { VaultKey } from './vault-transit-keys.js';
import { assertRetirable } from './version-rules.js';

/** `null`: nothing to change (already in that state). */
export interface RetirePlan {
  readonly config: Readonly<Record<string, number>> | null;
  readonly trimTo?: number;
}

const NOTHING: RetirePlan = { config: null };

export function planDisable(key: VaultKey, ref: KeyRef): RetirePlan {
  const id = formatKeyRef(ref);
  const current = assertRetirable(key.info, ref.version, 'disable');
  if (current.state === 'destroyed') throw new KeyError('key_destroyed', `key ${id} was destroyed`);
  if (current.state === 'disabled') return NOTHING;
  if (ref.version !== key.minDecryption) {
    throw new KeyError(
      'unsupported_operation',
      `cannot disable ${id} alone: Vault disables versions oldest-first (by raising ` +
        `min_decryption_version); disable ${ref.name}@${key.minDecryption} first`,
    );
  }
  const floor = ref.version + 1;
  const raiseEncryption = key.minEncryption !== 0 && key.minEncryption < floor;
  return {
    config: { min_decryption_version: floor, ...(raiseEncryption ? { min_encryption_version: floor } : {}) },
  };
}

export function planEnable(key: VaultKey, ref: KeyRef): RetirePlan {
  const id = formatKeyRef(ref);
  const current = key.info.versions.find((v) => v.version === ref.version);
  if (!current) throw new KeyError('key_version_not_found', `key ${id} does not exist`);
  if (current.state === 'destroyed') {
    throw new KeyError('key_destroyed', `key ${id} was destroyed: what it protected can no longer be read`);
  }
  if (current.state === 'active') return NOTHING;
  if (ref.version !== key.minDecryption - 1) {
    throw new KeyError(
      'unsupported_operation',
      `cannot enable ${id} alone: Vault re-enables versions newest-first (by lowering ` +
        `min_decryption_version); enable ${ref.name}@${key.minDecryption - 1} first`,
    );
  }
  return { config: { min_decryption_version: ref.version } };
}

export function planDestroy(key: VaultKey, ref: KeyRef): RetirePlan {
  const id = formatKeyRef(ref);
  const current = assertRetirable(key.info, ref.version, 'destroy');
  if (current.state === 'destroyed') return NOTHING;
  const oldest = Math.max(key.minAvailable, 1);
  if (ref.version !== oldest) {
    throw new KeyError(
      'unsupported_operation',
      `cannot destroy ${id} alone: Vault destroys versions oldest-first (by trimming); ` +
        `destroy ${ref.name}@${oldest} first`,
    );
  }
  const floor = ref.version + 1;
  const minDecryption = Math.max(key.minDecryption, floor);
  const minEncryption = key.minEncryption === 0 ? minDecryption : Math.max(key.minEncryption, minDecryption);
  const config: Record<string, number> = {};
  if (minDecryption !== key.minDecryption) config.min_decryption_version = minDecryption;
  if (minEncryption !== key.minEncryption) config.min_encryption_version = minEncryption;
  return { config: Object.keys(config).length > 0 ? config : null, trimTo: floor };
}
