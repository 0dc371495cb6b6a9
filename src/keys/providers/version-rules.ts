import { KeyError } from '../errors.js';
import { formatKeyRef } from '../key-id.js';
import type { KeyAlgorithm, KeyInfo, KeyVersionInfo } from '../types.js';

/** The version to use for `ref`, or the KeyError the contract demands. */
export function usableVersion<V extends KeyVersionInfo>(
  name: string,
  versions: readonly V[],
  version: number,
): V {
  const found = versions.find((v) => v.version === version);
  const id = formatKeyRef({ name, version });
  if (!found) throw new KeyError('key_version_not_found', `key ${id} does not exist`);
  if (found.state === 'destroyed') {
    throw new KeyError('key_destroyed', `key ${id} was destroyed: what it protected can no longer be read`);
  }
  if (found.state === 'disabled') throw new KeyError('key_disabled', `key ${id} is disabled`);
  return found;
}

/** Checks that `version` may be disabled or destroyed: it exists and is not the primary. */
export function assertRetirable(info: KeyInfo, version: number, what: 'disable' | 'destroy'): KeyVersionInfo {
  const found = info.versions.find((v) => v.version === version);
  const id = formatKeyRef({ name: info.name, version });
  if (!found) throw new KeyError('key_version_not_found', `key ${id} does not exist`);
  if (version === info.primaryVersion) {
    throw new KeyError(
      'unsupported_operation',
      `cannot ${what} ${id}: it is the primary version; rotate first`,
    );
  }
  return found;
}

export function assertAlgorithmFor(name: string, algorithm: KeyAlgorithm, use: 'wrap' | 'sign'): void {
  const isWrap = algorithm === 'aes-256-gcm';
  if (isWrap !== (use === 'wrap')) {
    throw new KeyError(
      'key_wrong_type',
      `key ${name} is ${algorithm}: it cannot ${use === 'wrap' ? 'wrap data keys' : 'sign'}`,
    );
  }
}

/** Data keys are 16 to 64 bytes. */
export function assertDataKeySize(dataKey: Uint8Array): void {
  if (dataKey.length < 16 || dataKey.length > 64) {
    throw new KeyError('invalid_argument', 'a data key is 16 to 64 bytes');
  }
}
