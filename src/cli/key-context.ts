import { hostname, userInfo } from 'node:os';
import { ConfigError, defaultHome, ensureHome, loadConfigFile, type ZtgateConfig } from '../config/index.js';
import { openKeyService, type KeyService } from '../gateway/key-service.js';
import { createBus, createStore, type StateBus, type Store } from '../store/index.js';

/** What a command that needs no keys works with: the config, the store, the shared bus. */
export interface StoreContext {
  readonly config: ZtgateConfig;
  readonly home: string;
  readonly configFile: string;
  readonly store: Store;
  /** The configured bus when it is shared (Redis); undefined for `memory:`, which no other process sees. */
  readonly bus: StateBus | undefined;
  /** Who runs the command, as recorded in the audit log. */
  readonly actor: string;
  close(): Promise<void>;
}

/** What a key command works with: the config, the store its audit rows go to, the key service. */
export interface KeyContext {
  readonly config: ZtgateConfig;
  readonly home: string;
  readonly configFile: string;
  readonly store: Store;
  readonly service: KeyService;
  /** Who runs the command, as recorded in the audit log. */
  readonly actor: string;
  close(): Promise<void>;
}

export function cliActor(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): the uid still says something.
    user = `uid-${process.getuid?.() ?? 'unknown'}`;
  }
  return `cli:${user}@${hostname()}`;
}

/**
 * Opens the configured store (migrated) and, when it is shared, the configured bus: what a
 * `ztgate apikey` or `ztgate revoke` command needs, and the base of a key context.
 */
export async function openStoreContext(home: string | undefined): Promise<StoreContext> {
  const { paths } = await ensureHome(home ?? defaultHome());
  const config = await loadConfigFile(paths.config);
  const store = await createStore({
    url: config.store.url,
    home: paths.dir,
    poolSize: 2,
    ...(config.store.schema ? { schema: config.store.schema } : {}),
  });
  let bus: StateBus | undefined;
  try {
    if (config.bus.url !== 'memory:')
      bus = await createBus({ url: config.bus.url, keyPrefix: config.bus.keyPrefix });
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return {
    config,
    home: paths.dir,
    configFile: paths.config,
    store,
    bus,
    actor: cliActor(),
    close: async () => {
      await bus?.close();
      await store.close();
    },
  };
}

/** Opens a context, runs `work` on it and closes it; config errors exit 2, other errors print their code and exit 1. */
async function withContext<C extends { close(): Promise<void> }>(
  open: () => Promise<C>,
  command: string,
  work: (context: C) => Promise<number>,
): Promise<number> {
  let context: C;
  try {
    context = await open();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ztgate ${command}: ${err.message}\n`);
      return 2;
    }
    return reportKeyError(command, err);
  }
  try {
    return await work(context);
  } catch (err) {
    return reportKeyError(command, err);
  } finally {
    await context.close();
  }
}

/** Runs `work` with a store context. */
export function withStoreContext(
  home: string | undefined,
  command: string,
  work: (context: StoreContext) => Promise<number>,
): Promise<number> {
  return withContext(() => openStoreContext(home), command, work);
}

/**
 * Opens what a `ztgate keys` or `ztgate secret` command needs. Every key operation is audited in
 * the configured store; with a Redis bus, running replicas hear of rotations and destructions
 * at once (without one they notice within a second: see KeyManager.stateCheckMs).
 */
export async function openKeyContext(home: string | undefined): Promise<KeyContext> {
  const base = await openStoreContext(home);
  const { config, store, bus } = base;
  try {
    const service = await openKeyService({
      config,
      home: base.home,
      env: process.env,
      store,
      authMethod: 'cli',
      ...(bus ? { bus } : {}),
    });
    return {
      config,
      home: base.home,
      configFile: base.configFile,
      store,
      service,
      actor: base.actor,
      close: async () => {
        await service.close();
        await base.close();
      },
    };
  } catch (err) {
    await base.close().catch(() => undefined);
    throw err;
  }
}

/** Runs `work` with a key context. */
export function withKeyContext(
  home: string | undefined,
  command: string,
  work: (context: KeyContext) => Promise<number>,
): Promise<number> {
  return withContext(() => openKeyContext(home), command, work);
}

export function reportKeyError(command: string, err: unknown): number {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`ztgate ${command}: ${typeof code === 'string' ? `${code}: ` : ''}${message}\n`);
  return 1;
}
