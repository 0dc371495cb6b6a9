import type { Logger } from 'pino';
import type { ZtgateConfig } from '../config/index.js';
import type { StateBus, Store } from '../store/index.js';
import type { Closers } from './closers.js';
import { openKeyService, startKeyRotation, type KeyService } from './key-service.js';
import type { GatewayMetrics } from './metrics.js';

/** The gateway's key provider: opened, observed in metrics, rotating on schedule; closed with the gateway. */
export async function startGatewayKeys(options: {
  readonly config: ZtgateConfig;
  readonly home: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly store: Store;
  readonly bus: StateBus;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly closers: Closers;
}): Promise<KeyService> {
  const { config, bus, logger, metrics, closers } = options;
  const keyService = await openKeyService({
    config,
    home: options.home,
    env: options.env,
    store: options.store,
    bus,
    authMethod: 'system',
    logger,
    observe: (operation, seconds, outcome) =>
      metrics.observeKeyOperation(config.keys.provider, operation, seconds, outcome),
  });
  closers.push(() => keyService.close());
  const keys = keyService.keys;
  metrics.watchKeyCache(keys);
  if (keys.provider.kind === 'local') {
    logger.warn(
      { keys: keys.provider.description },
      'the local key provider is for a single node or development',
    );
  } else {
    logger.info({ keys: keys.provider.description }, 'key provider ready');
  }
  const stopRotation = startKeyRotation(keyService, config, bus, logger);
  closers.push(async () => stopRotation());
  return keyService;
}
