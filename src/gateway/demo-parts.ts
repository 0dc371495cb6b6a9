import type { Logger } from 'pino';
import type { IssuerConfig, ZtgateConfig } from '../config/index.js';
import type { UpstreamConnector } from '../core/index.js';
import { createConnector, type CatalogueModel } from '../runtime/index.js';
import type { Closers } from './closers.js';

const DEMO_UPSTREAM = 'demo';
const DEMO_MODEL: CatalogueModel = {
  id: 'demo',
  upstream: DEMO_UPSTREAM,
  upstreamModel: 'demo-echo',
  demo: true,
};

/**
 * Demo mode: the built-in identity provider (its issuer joins `issuers`) and, unless an upstream
 * named `demo` is configured, the demo model (its connector and catalogue entry join the others).
 * Loaded only in demo mode: a real deployment never loads the demo provider's code.
 */
export async function startDemoParts(o: {
  readonly config: ZtgateConfig;
  readonly home: string;
  readonly connectors: Map<string, UpstreamConnector>;
  readonly models: CatalogueModel[];
  readonly issuers: IssuerConfig[];
  readonly closers: Closers;
  readonly logger: Logger;
}): Promise<{ issuer: string; modelUrl?: string }> {
  const { config, home, connectors, models, issuers, closers, logger } = o;
  let demoModelUrl: string | undefined;
  // Loaded only in demo mode: a real deployment never loads the demo provider's code.
  const { startDemoIssuer, startDemoModel } = await import('../demo/index.js');
  const issuer = await startDemoIssuer({
    home: home,
    port: config.demo.issuerPort,
    audience: config.demo.audience,
    onWarn: (msg) => logger.warn({ demo: true }, msg),
  });
  closers.push(() => issuer.close());
  const demoIssuer = issuer.issuer;
  issuers.push({
    issuer: issuer.issuer,
    audience: config.demo.audience,
    algorithms: ['ES256'],
    clockSkewSeconds: 30,
    rolesClaim: 'roles',
    groupsClaim: 'groups',
  });
  if (!connectors.has(DEMO_UPSTREAM)) {
    const model = await startDemoModel({ port: config.demo.modelPort });
    closers.push(() => model.close());
    demoModelUrl = model.url;
    const connector = createConnector('openai-compatible', DEMO_UPSTREAM, {
      baseUrl: model.url,
      authHeader: 'authorization',
      extraHeaders: {},
      connectTimeoutMs: 2000,
      headersTimeoutMs: 30_000,
      bodyTimeoutMs: 30_000,
      totalTimeoutMs: 60_000,
      retries: 1,
      maxConnections: 128,
    });
    connectors.set(DEMO_UPSTREAM, connector);
    closers.push(() => connector.close());
  }
  if (!models.some((m) => m.id === DEMO_MODEL.id)) models.push(DEMO_MODEL);
  logger.warn(
    { demo: true, issuer: demoIssuer, model: demoModelUrl },
    'DEMO MODE: built-in demo identity provider and demo model are running; not for real traffic',
  );
  return { issuer: demoIssuer, ...(demoModelUrl ? { modelUrl: demoModelUrl } : {}) };
}
