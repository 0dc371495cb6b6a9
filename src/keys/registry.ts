import { join } from 'node:path';
import type { KeyProvider } from './types.js';

/** Provider settings as validated by the config schema; secrets are still references here. */
export type KeyProviderConfig =
  | { readonly kind: 'local'; readonly masterKeyFile?: string }
  | {
      readonly kind: 'pkcs11';
      readonly module: string;
      readonly tokenLabel?: string;
      readonly slot?: number;
      /** Secret reference (`env:`, `file:`). */
      readonly pin: string;
      readonly labelPrefix: string;
      /** Sessions opened on the token (parallel operations); the provider's default when absent. */
      readonly sessions?: number;
    }
  | {
      readonly kind: 'vault-transit';
      readonly address: string;
      /** Secret reference (`env:`, `file:`). */
      readonly token: string;
      readonly mount: string;
      readonly namespace?: string;
      /** Secret reference to a PEM CA bundle. */
      readonly ca?: string;
      readonly timeoutMs: number;
    };

export interface ProviderEnvironment {
  /** The home directory; the local provider keeps its files in `<home>/keys`. */
  readonly home: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Resolves an `env:`/`file:` reference; its errors name the reference, never the value. */
  readonly resolveSecret: (ref: string, where: string) => Promise<string>;
}

type Factory<C> = (config: C, environment: ProviderEnvironment) => Promise<KeyProvider>;
type FactoryMap = {
  readonly [K in KeyProviderConfig['kind']]: Factory<Extract<KeyProviderConfig, { kind: K }>>;
};

// Imported on demand: a deployment on Vault never loads the PKCS#11 native addon, and so on.
const PROVIDERS: FactoryMap = {
  local: async (config, environment) => {
    const { createLocalProvider } = await import('./providers/local.js');
    const dir = join(environment.home, 'keys');
    return createLocalProvider({
      dir,
      env: environment.env,
      ...(config.masterKeyFile ? { masterKeyFile: join(environment.home, config.masterKeyFile) } : {}),
    });
  },
  pkcs11: async (config, environment) => {
    const { createPkcs11Provider } = await import('./providers/pkcs11.js');
    return createPkcs11Provider({
      modulePath: config.module,
      ...(config.tokenLabel === undefined ? {} : { tokenLabel: config.tokenLabel }),
      ...(config.slot === undefined ? {} : { slot: config.slot }),
      pin: await environment.resolveSecret(config.pin, 'keys.pkcs11.pin'),
      labelPrefix: config.labelPrefix,
      ...(config.sessions === undefined ? {} : { sessions: config.sessions }),
    });
  },
  'vault-transit': async (config, environment) => {
    const { createVaultTransitProvider } = await import('./providers/vault-transit.js');
    return createVaultTransitProvider({
      address: config.address,
      token: await environment.resolveSecret(config.token, 'keys.vault.token'),
      mount: config.mount,
      ...(config.namespace === undefined ? {} : { namespace: config.namespace }),
      ...(config.ca === undefined
        ? {}
        : { caPem: await environment.resolveSecret(config.ca, 'keys.vault.ca') }),
      timeoutMs: config.timeoutMs,
    });
  },
};

export const KEY_PROVIDER_KINDS = Object.keys(PROVIDERS) as readonly KeyProviderConfig['kind'][];

/** Opens the configured key provider. The one place that knows every provider kind. */
export function createKeyProvider(
  config: KeyProviderConfig,
  environment: ProviderEnvironment,
): Promise<KeyProvider> {
  const factory = PROVIDERS[config.kind] as Factory<KeyProviderConfig>;
  return factory(config, environment);
}
