import type { Logger } from 'pino';
import { resolveSecret, type ZtgateConfig } from '../config/index.js';
import type { AuditEntry } from '../core/index.js';
import {
  createKeyProvider,
  instrumentProvider,
  KeyManager,
  parseKeyRef,
  startRotationScheduler,
  unsealSecret,
  type KeyAuditEvent,
  type KeyChange,
  type KeyProviderConfig,
  type ProviderObserver,
} from '../keys/index.js';
import type { StateBus, Store } from '../store/index.js';
import { controlAuditEntry } from './control-audit.js';

const CHANGES_CHANNEL = 'keys:changes';
const ROTATION_LOCK = 'keys:rotation-lock';

/** The key provider settings of a validated config, in the key layer's terms. */
export function providerConfigOf(config: ZtgateConfig): KeyProviderConfig {
  const keys = config.keys;
  if (keys.provider === 'pkcs11' && keys.pkcs11) return { kind: 'pkcs11', ...keys.pkcs11 };
  if (keys.provider === 'vault-transit' && keys.vault) return { kind: 'vault-transit', ...keys.vault };
  return { kind: 'local', masterKeyFile: keys.local.masterKeyFile };
}

/** A key operation as an audit entry of the control plane: ids and outcome, never key material. */
export function keyAuditEntry(event: KeyAuditEvent, authMethod: string): AuditEntry {
  return controlAuditEntry({
    action: `keys.${event.operation}`,
    target: `key:${event.keyId}`,
    actor: event.actor,
    authMethod,
    outcome: event.outcome,
    ...(event.errorCode ? { errorCode: event.errorCode } : {}),
    ...(event.algorithm ? { details: [`algorithm:${event.algorithm}`] } : {}),
    time: new Date(event.time),
  });
}

export interface KeyServiceOptions {
  readonly config: ZtgateConfig;
  readonly home: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where key operations are audited. */
  readonly store: Store;
  /** `cli` for the ztgate command, `system` for the gateway's own operations. */
  readonly authMethod: string;
  /** Shares rotations and destructions with other replicas (their caches are wiped). */
  readonly bus?: StateBus;
  readonly logger?: Logger;
  /** Told of every provider operation (for metrics). */
  readonly observe?: ProviderObserver;
}

export interface KeyService {
  readonly keys: KeyManager;
  /** Opens `sealed:` references in the config (config/ resolveSecret's Unsealer). */
  unseal(ref: string, where: string): Promise<string>;
  close(): Promise<void>;
}

function parseChange(message: string): KeyChange | undefined {
  try {
    const value = JSON.parse(message) as { kind?: unknown; keyId?: unknown };
    if (value.kind !== 'rotated' && value.kind !== 'disabled' && value.kind !== 'destroyed') return undefined;
    if (typeof value.keyId !== 'string') return undefined;
    return { kind: value.kind, keyId: parseKeyRef(value.keyId) };
  } catch {
    return undefined;
  }
}

/**
 * Opens the configured key provider and wraps it in a KeyManager that audits every key operation
 * in the store and, with a bus, tells other replicas to wipe cached data keys of rotated,
 * disabled or destroyed versions. Fails (and the start with it) when the provider cannot open.
 */
export async function openKeyService(options: KeyServiceOptions): Promise<KeyService> {
  const { config, home, env, store, bus, logger } = options;
  const opened = await createKeyProvider(providerConfigOf(config), {
    home,
    env,
    resolveSecret: (ref, where) => resolveSecret(ref, where, home, env),
  });
  const provider = options.observe ? instrumentProvider(opened, options.observe) : opened;
  try {
    // A provider that cannot serve now stops the start, rather than the first request.
    await provider.ping();
  } catch (err) {
    await provider.close().catch(() => undefined);
    throw err;
  }
  const keys = new KeyManager({
    provider,
    cache: config.keys.dataKeyCache,
    audit: async (event) => {
      await store.audit.append(keyAuditEntry(event, options.authMethod));
    },
    onChange: (change) => {
      if (!bus) return;
      const message = JSON.stringify({
        kind: change.kind,
        keyId: `${change.keyId.name}@${change.keyId.version}`,
      });
      bus
        .publish(CHANGES_CHANNEL, message)
        .catch((err: unknown) =>
          logger?.error({ err: (err as Error).message }, 'could not announce a key change to other replicas'),
        );
    },
  });
  const closers: (() => Promise<unknown>)[] = [];
  try {
    if (bus) {
      const unsubscribe = await bus.subscribe(CHANGES_CHANNEL, (message) => {
        const change = parseChange(message);
        if (change) keys.applyRemoteChange(change);
      });
      closers.push(unsubscribe);
    }
  } catch (err) {
    await keys.close();
    throw err;
  }
  return {
    keys,
    unseal: (ref, where) => unsealSecret(keys, ref, where),
    close: async () => {
      for (const close of closers) await close().catch(() => undefined);
      await keys.close();
    },
  };
}

/** Starts automatic rotation per `keys.rotation`; with several replicas one rotates per round. */
export function startKeyRotation(
  service: KeyService,
  config: ZtgateConfig,
  bus: StateBus,
  logger: Logger,
): () => void {
  const policies = Object.entries(config.keys.rotation.periods).map(([name, periodMs]) => ({
    name,
    periodMs,
  }));
  if (policies.length === 0) return () => undefined;
  const intervalMs = config.keys.rotation.checkInterval;
  return startRotationScheduler({
    keys: service.keys,
    policies,
    intervalMs,
    acquire: async () => (await bus.increment(ROTATION_LOCK, 1, Math.max(1000, intervalMs - 1000))) === 1,
    onRound: ({ rotated, failed }) => {
      if (rotated.length > 0) logger.info({ keys: rotated }, 'rotated keys whose period had passed');
      for (const f of failed) logger.error({ key: f.name, code: f.code }, 'scheduled key rotation failed');
    },
    onError: (err) =>
      logger.error({ err: err instanceof Error ? err.message : String(err) }, 'key rotation round failed'),
  });
}
