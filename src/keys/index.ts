export * from './errors.js';
export type * from './types.js';
export { KEY_ALGORITHMS } from './types.js';
export { formatKeyRef, parseKeyRef, assertKeyName } from './key-id.js';
export { KeyManager } from './key-manager.js';
export type {
  KeyAuditEvent,
  KeyChange,
  KeyManagerOptions,
  EncryptOptions,
  KeyOperation,
} from './key-manager.js';
export type { DataKeyCacheLimits } from './data-key-cache.js';
export { parseEnvelope, type EnvelopeContext } from './envelope-format.js';
export { EncryptedObjects, type EnvelopeRepository, type RewrapReport } from './encrypted-objects.js';
export { createKeyProvider, KEY_PROVIDER_KINDS } from './registry.js';
export type { KeyProviderConfig, ProviderEnvironment } from './registry.js';
export { rotateDueKeys, startRotationScheduler, ROTATION_ACTOR, type RotationPolicy } from './rotation.js';
export {
  CONFIG_SECRETS_KEY,
  isSealedRef,
  sealSecret,
  unsealSecret,
  rewrapSealedSecret,
} from './sealed-secrets.js';
export { publicKeyFrom, verifyWithPublicKey } from './public-key.js';
export { instrumentProvider, type ProviderObserver } from './instrument.js';
