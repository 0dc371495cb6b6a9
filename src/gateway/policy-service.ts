import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ZtgateConfig } from '../config/index.js';
import type { Stages } from '../core/index.js';
import type { KeyManager } from '../keys/index.js';
import {
  createCedarDecider,
  createDecider,
  loadBundle,
  requireSignedBundle,
  type ModelCatalogue,
} from '../policy/index.js';
import type { CatalogueModel } from '../runtime/index.js';

/**
 * The decide stage: the Cedar bundle of `policy.bundle` when set (a bundle that does not load
 * stops the start), else the built-in rule (allow authenticated callers).
 */
export async function deciderFor(
  config: ZtgateConfig,
  home: string,
  models: readonly CatalogueModel[],
  keys: KeyManager,
  logger: Logger,
): Promise<Stages['decide']> {
  if (!config.policy.bundle) return createDecider();
  const dir = resolve(home, config.policy.bundle);
  const bundle = await loadBundle(dir);
  if (config.policy.requireSigned) {
    // Checked against exactly the bundle that was loaded; any failure stops the start.
    const signed = await requireSignedBundle({ dir, digest: bundle.digest }, keys, {
      keyNames: config.policy.signingKeys,
    });
    logger.info({ keyId: signed.keyId, digest: bundle.digest }, 'policy bundle signature verified');
  }
  const catalogue: ModelCatalogue = new Map(
    models.map((m) => [
      m.id,
      m.attributes ?? {
        provider: 'ztgate-demo',
        region: 'local',
        runtimeKind: 'on_prem' as const,
        attestationKind: 'none',
        attested: false,
        dataClasses: [],
        workspaces: [],
      },
    ]),
  );
  logger.info({ bundle: config.policy.bundle, digest: bundle.digest }, 'policy bundle loaded');
  return createCedarDecider({
    bundle: () => bundle,
    catalogue,
    dataClass: config.policy.dataClass,
    networkZone: config.policy.networkZone,
  });
}
