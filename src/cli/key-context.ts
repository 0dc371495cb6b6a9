import { hostname, userInfo } from 'node:os';
import { ConfigError, defaultHome, ensureHome, loadConfigFile, type ZtgateConfig } from '../config/index.js';
import { openKeyService, type KeyService } from '../gateway/key-service.js';
import { createBus, createStore, type StateBus, type Store } from '../store/index.js';

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
 * Opens what a `ztgate keys` or `ztgate secret` command needs. Every key operation is audited in
 * the configured store; with a Redis bus, running replicas hear of rotations and destructions
 * at once (without one they notice within a second: see KeyManager.stateCheckMs).
 */
export async function openKeyContext(home: string | undefined): Promise<KeyContext> {
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
    const service = await openKeyService({
      config,
      home: paths.dir,
      env: process.env,
      store,
      authMethod: 'cli',
      ...(bus ? { bus } : {}),
    });
    return {
      config,
      home: paths.dir,
      configFile: paths.config,
      store,
      service,
      actor: cliActor(),
      close: async () => {
        await service.close();
        await bus?.close();
        await store.close();
      },
    };
  } catch (err) {
    await bus?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw err;
  }
}

/** Runs `work` with a key context; config errors exit 2, key errors print their code and exit 1. */
export async function withKeyContext(
  home: string | undefined,
  command: string,
  work: (context: KeyContext) => Promise<number>,
): Promise<number> {
  let context: KeyContext;
  try {
    context = await openKeyContext(home);
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

export function reportKeyError(command: string, err: unknown): number {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`ztgate ${command}: ${typeof code === 'string' ? `${code}: ` : ''}${message}\n`);
  return 1;
}
