import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import {
  homePaths,
  writeRunState,
  type HomePaths,
  type IssuerConfig,
  type ZtgateConfig,
} from '../config/index.js';
import type { AuditEntry, Stages, UpstreamConnector } from '../core/index.js';
import { EncryptedObjects, type KeyManager } from '../keys/index.js';
import { openMesh } from '../mesh/index.js';
import { createDetectors, openPseudonymKeys, TRANSFORM_OBLIGATIONS } from '../guard/index.js';
import { ROUTE_OBLIGATIONS, type CatalogueModel } from '../runtime/index.js';
import { createBus, createStore, type StateBus, type Store } from '../store/index.js';
import { createWatchChannel } from '../watch/index.js';
import { createAdminPlane } from './admin.js';
import { readinessChecks } from './readiness.js';
import { registerAdminRoutes } from './admin-routes.js';
import { consoleIssuerOf, createConsoleServer } from '../console/server.js';
import { admitUnlessQuarantined, openWatchService, type WatchService } from './watch-service.js';
import { createDataPlane } from './data-plane.js';
import { GatewayMetrics } from './metrics.js';
import { createPipeline } from './pipeline.js';
import { startGatewayKeys } from './gateway-keys.js';
import { openIdentityService, openRevocations } from './identity-service.js';
import { openLedgerService, RECORD_OBLIGATIONS } from './ledger-service.js';
import { openPolicyService, type PolicyService } from './policy-service.js';
import { ApprovalService } from './approval-service.js';
import { createClosers } from './closers.js';
import { startDemoParts } from './demo-parts.js';
import { buildStages } from './build-stages.js';
import { connectorFor } from './upstream-connectors.js';
import { openRuntimeTrust, type RuntimeTrustService } from './runtime-trust-service.js';
import { openPromptService, type PromptService } from './prompt-service.js';

/** The console's built front end (`vite build`), from src/ and dist/ alike. */
const CONSOLE_UI_DIR = fileURLToPath(new URL('../../dist/console-ui/', import.meta.url));

export interface GatewayOptions {
  readonly config: ZtgateConfig;
  readonly home: string;
  readonly logger: Logger;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Test seam for the fail-closed tests: replaces built stages. Not reachable from config. */
  readonly stageOverrides?: Partial<Stages>;
  /** Collect Node's default process metrics (off in tests that start many gateways). */
  readonly processMetrics?: boolean;
}

export interface RunningGateway {
  readonly dataUrl: string;
  readonly adminUrl: string;
  readonly demoIssuer?: string;
  readonly demoModelUrl?: string;
  readonly store: Store;
  readonly bus: StateBus;
  readonly keys: KeyManager;
  readonly metrics: GatewayMetrics;
  readonly paths: HomePaths;
  readonly policy: PolicyService;
  /** Attested upstreams' eligibility (absent: no upstream configures `attestation`). */
  readonly runtimeTrust?: RuntimeTrustService;
  /** Signed system-prompt templates (absent: `prompts` not configured). */
  readonly prompts?: PromptService;
  readonly watch: WatchService;
  readonly approvals: ApprovalService;
  close(): Promise<void>;
}

function urlOf(address: AddressInfo | string | null, host: string, tls = false): string {
  if (address === null || typeof address === 'string') throw new Error('listener has no TCP address');
  const shown = host.includes(':') ? `[${host}]` : host;
  return `${tls ? 'https' : 'http'}://${shown}:${address.port}`;
}

/**
 * The composition root: builds every component from the validated config, starts the demo
 * components in demo mode, and starts both listeners. Anything that fails stops the start and
 * closes what was already started (fail closed).
 */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const { config, logger } = options;
  const env = options.env ?? process.env;
  const paths = homePaths(options.home);
  const closers = createClosers(logger);
  const closeAll = closers.closeAll;

  try {
    const store = await createStore({
      url: config.store.url,
      home: paths.dir,
      poolSize: config.store.poolSize,
      ...(config.store.schema ? { schema: config.store.schema } : {}),
    });
    closers.push(() => store.close());
    const bus = await createBus({ url: config.bus.url, keyPrefix: config.bus.keyPrefix });
    closers.push(() => bus.close());
    const metrics = new GatewayMetrics(options.processMetrics ?? true);
    const keyService = await startGatewayKeys({
      config,
      home: paths.dir,
      env,
      store,
      bus,
      logger,
      metrics,
      closers,
    });
    const keys = keyService.keys;
    // The mesh (mutual TLS with SPIFFE IDs): the gateway's SVID comes from the built-in CA,
    // whose keys are in the key provider opened above.
    const revocations = await openRevocations(config, bus, logger);
    closers.push(() => revocations.close());
    const mesh = config.mesh.enabled
      ? await openMesh({
          config: config.mesh,
          home: paths.dir,
          env,
          keys,
          logger,
          alsoRevoked: {
            isRevoked: (serial) => revocations.isRevoked({ certificateSerial: serial }).revoked,
          },
        })
      : undefined;
    if (mesh) closers.push(async () => mesh.close());

    const connectors = new Map<string, UpstreamConnector>();
    for (const [id, upstream] of Object.entries(config.upstreams)) {
      const connector = await connectorFor(id, upstream, paths.dir, env, keyService, mesh);
      connectors.set(id, connector);
      closers.push(() => connector.close());
    }
    const audit = (e: AuditEntry): Promise<unknown> => store.audit.append(e);
    const prompts = await openPromptService({
      config,
      home: paths.dir,
      env,
      keys: keyService,
      audit,
      logger,
    });
    if (prompts) closers.push(async () => prompts.close());
    const models: CatalogueModel[] = config.models.map((m) => ({ ...m }));
    const issuers: IssuerConfig[] = [...config.identity.issuers];

    const demo = config.demo.enabled
      ? await startDemoParts({ config, home: paths.dir, connectors, models, issuers, closers, logger })
      : undefined;
    const demoIssuer = demo?.issuer;
    const demoModelUrl = demo?.modelUrl;
    if (issuers.length === 0)
      logger.warn('no identity issuer is configured: every request will be refused (401)');
    if (models.length === 0) logger.warn('no model is configured: every model request will be refused (404)');

    const watch = createWatchChannel(
      10_000,
      (err) =>
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'watch listener failed'),
      () => metrics.watchDropped.inc(),
    );
    const identity = openIdentityService({ config, issuers, store, revocations, logger });
    closers.push(() => identity.close());
    // Policy first: the live bundle's runtimes.json holds reference values runtime trust applies
    // from its first challenge; policy reads proved attestation through the late-bound service.
    const late: { trust?: RuntimeTrustService; watch?: WatchService } = {};
    const attestedUpstreams = Object.values(config.upstreams).some((u) => u.attestation);
    const policy = await openPolicyService({
      ...(attestedUpstreams ? { attestation: (id: string) => late.trust?.attestation(id) } : {}),
      onLiveBundle: async (bundle) => {
        late.watch?.applyBundle(bundle);
        await late.trust?.applyBundle(bundle);
      },
      config,
      home: paths.dir,
      models,
      keys,
      bus,
      metrics,
      logger,
      audit: (entry) => store.audit.append(entry),
    });
    closers.push(() => policy.close());
    const bundle = policy.liveBundle();
    const runtimeTrust = await openRuntimeTrust({
      config,
      home: paths.dir,
      env,
      keys: keyService,
      mesh,
      audit,
      logger,
      bundle,
    });
    if (runtimeTrust) {
      late.trust = runtimeTrust;
      closers.push(() => runtimeTrust.close());
    }
    // Built once: loading the detectors' models and dictionaries is start-up work.
    const detectors = createDetectors(config.guard);
    logger.info(
      { recognizers: detectors.recognizers.map((r) => r.name), injection: detectors.injection !== undefined },
      'data guard ready',
    );
    const ledger = await openLedgerService({ config, home: paths.dir, store, keys, logger, metrics });
    closers.push(() => ledger.close());
    const approvals = new ApprovalService({
      records: store.records,
      objects: new EncryptedObjects(keys, store.objects),
      keys,
      audit,
    });
    await approvals.start();
    const watchService = await openWatchService({
      config,
      home: paths.dir,
      env,
      store,
      bus,
      channel: watch,
      keys,
      unseal: keyService.unseal,
      revocations,
      audit,
      bundle,
      ...(runtimeTrust
        ? { disableRuntime: (id: string, why: string) => (runtimeTrust.trust.quarantine(id, why), true) }
        : {}),
      logger,
    });
    late.watch = watchService;
    closers.push(() => watchService.close());
    const pseudonymKeys = openPseudonymKeys(keys, new EncryptedObjects(keys, store.objects));
    const built = buildStages({
      config,
      authenticator: identity.authenticator,
      detectors,
      policy,
      pseudonymKeys,
      prompts,
      bus,
      keys,
      models,
      connectors,
      runtimeTrust,
      watch: watchService,
      approvals,
      record: ledger.record,
      sink: watch.sink,
    });
    const stages: Stages = { ...built, ...options.stageOverrides };
    const pipeline = createPipeline({
      stages,
      timeouts: config.pipeline.stageTimeoutsMs,
      metrics,
      logger,
      showDenyingPolicy: config.policy.showDenyingPolicy,
      enforcedObligations: new Set<string>([
        ...TRANSFORM_OBLIGATIONS,
        ...ROUTE_OBLIGATIONS,
        ...RECORD_OBLIGATIONS,
      ]),
      admit: (ctx) => admitUnlessQuarantined(watchService, ctx),
      riskOf: watchService.riskOf,
    });

    const dataTls =
      mesh && config.server.tls
        ? mesh.server({
            listener: 'data',
            clientCertificates: config.server.tls.clientCertificates,
            allowedSpiffeIds: config.server.tls.allowedSpiffeIds,
          })
        : undefined;
    const dataPlane = await createDataPlane({
      config,
      pipeline,
      models,
      metrics,
      logger,
      ...(dataTls ? { tls: dataTls } : {}),
      ...(runtimeTrust ? { runtimeOf: runtimeTrust.attestation } : {}),
      claimApproval: async (id, ctx) => {
        // A quarantined caller gets nothing released, as on every other route.
        admitUnlessQuarantined(watchService, ctx);
        return approvals.clientAnswer(id, ctx.principal?.id ?? '');
      },
    });
    closers.push(() => dataPlane.close());
    const checks = readinessChecks({
      store,
      bus,
      keys,
      identityChecks: identity.checks,
      mesh,
      connectors,
      issuers,
    });
    checks.push({ name: 'watch:shared-lists', check: async () => watchService.assertFresh() });
    const consoleServer = await createConsoleServer({
      config,
      bus,
      logger,
      issuer: consoleIssuerOf(config, issuers, demoIssuer),
      ...(demoIssuer ? { demo: { issuer: demoIssuer } } : {}),
      staticDir: CONSOLE_UI_DIR,
      audit,
      home: paths.dir,
      env,
      unseal: keyService.unseal,
    });
    closers.push(() => consoleServer.close());
    const adminTls =
      mesh && config.server.adminTls
        ? mesh.server({
            listener: 'admin',
            clientCertificates: 'required',
            allowedSpiffeIds: config.server.adminAllowedSpiffeIds,
          })
        : undefined;
    const admin = await createAdminPlane({
      metrics,
      checks,
      logger,
      routes: (app) =>
        registerAdminRoutes(app, {
          config,
          tls: adminTls,
          console: consoleServer,
          identity,
          ledger,
          policy,
          store,
          keys,
          watch: watchService,
          approvals,
          runtimeTrust,
          audit,
          logger,
        }),
      ...(adminTls ? { tls: adminTls } : {}),
    });
    closers.push(() => admin.close());

    await dataPlane.listen({ host: config.server.host, port: config.server.port });
    const dataUrl = urlOf(dataPlane.server.address(), config.server.host, dataTls !== undefined);
    await admin.listen({ host: config.server.adminHost, port: config.server.adminPort });
    const adminUrl = urlOf(admin.server.address(), config.server.adminHost, adminTls !== undefined);

    await writeRunState(paths, {
      pid: process.pid,
      dataPlane: dataUrl,
      admin: adminUrl,
      ...(demoIssuer ? { demoIssuer } : {}),
      ...(demoModelUrl ? { demoModel: demoModelUrl } : {}),
    });

    return {
      dataUrl,
      adminUrl,
      ...(demoIssuer ? { demoIssuer } : {}),
      ...(demoModelUrl ? { demoModelUrl } : {}),
      store,
      bus,
      keys,
      metrics,
      paths,
      policy,
      ...(runtimeTrust ? { runtimeTrust } : {}),
      ...(prompts ? { prompts } : {}),
      watch: watchService,
      approvals,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
