import type { Logger } from 'pino';
import { resolveSecret, type ZtgateConfig } from '../config/index.js';
import type { KeyManager } from '../keys/index.js';
import { BuiltInCa } from './ca.js';
import { MeshError } from './errors.js';
import type { WorkloadIdentity } from './identity.js';
import type { PeerPolicy } from './peer.js';
import type { InMemoryRevocationList, RevocationList } from './revocation.js';
import { SpiffeAllowList, type SpiffeId } from './spiffe.js';
import { meshConnector, meshServerTls, type ClientCertificateMode, type MeshServerTls } from './tls.js';
import { builtInBundle, parseTrustBundle, type TrustBundle } from './trust-bundle.js';
import { startMeshWorkload } from './workload.js';

export type MeshConfig = ZtgateConfig['mesh'];

export interface OpenMeshOptions {
  readonly config: MeshConfig;
  readonly home: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly keys: KeyManager;
  readonly logger: Logger;
  /** Serials revoked elsewhere (the gateway's StateBus revocation list), asked besides revoked.json. */
  readonly alsoRevoked?: RevocationList;
}

/** The gateway's place in the mesh: its SVID, the trust bundle, revocations; TLS for listeners and upstreams. */
export interface Mesh {
  readonly trustDomain: string;
  readonly spiffeId: SpiffeId;
  readonly identity: WorkloadIdentity;
  readonly bundle: TrustBundle;
  readonly revocations: InMemoryRevocationList;
  /** TLS for a listener; `allowedSpiffeIds` empty: any SVID of the trust domain. */
  server(options: {
    readonly listener: string;
    readonly clientCertificates: ClientCertificateMode;
    readonly allowedSpiffeIds: readonly string[];
  }): MeshServerTls;
  /** An undici connector for an upstream whose SPIFFE ID must be on `spiffeIds`. */
  client(options: {
    readonly spiffeIds: readonly string[];
    readonly connectTimeoutMs: number;
  }): MeshClientConnect;
  /** Throws when the gateway's SVID has expired (renewal keeps failing): for /readyz. */
  check(): void;
  close(): void;
}

export type MeshClientConnect = ReturnType<typeof meshConnector>['connect'];

async function loadBundle(options: OpenMeshOptions, ca: BuiltInCa): Promise<TrustBundle> {
  const { config, home, env } = options;
  if (!config.trustBundle) {
    if (config.trustDomain && config.trustDomain !== ca.trustDomain) {
      throw new MeshError(
        'trust_bundle_invalid',
        `mesh.trustDomain ${config.trustDomain} is not the built-in CA's (${ca.trustDomain}); set mesh.trustBundle for another trust domain`,
      );
    }
    return builtInBundle(ca.trustDomain, ca.bundlePem);
  }
  const text = await resolveSecret(config.trustBundle, 'mesh.trustBundle', home, env);
  return parseTrustBundle(text, config.trustDomain ?? ca.trustDomain, config.trustBundle);
}

/**
 * Opens the mesh at start: loads the built-in CA (its keys stay in the key provider), obtains the
 * gateway's SVID and starts renewing it, loads the trust bundle and the revocation list (and
 * reloads the latter when `ztgate ca revoke` changes it). Anything missing or malformed stops the
 * start (fail closed).
 */
export async function openMesh(options: OpenMeshOptions): Promise<Mesh> {
  const { config, home, keys, logger } = options;
  const ca = await BuiltInCa.load(keys, home);
  const bundle = await loadBundle(options, ca);
  const workload = await startMeshWorkload({
    ca,
    home,
    kind: 'gateway',
    name: config.name,
    ttlMs: config.svidTtl,
    logger,
  });
  const { spiffeId, identity, revocations } = workload;
  logger.info(
    {
      spiffeId: spiffeId.id,
      serial: identity.current.serial,
      trustDomain: bundle.trustDomain,
      trustBundle: bundle.source,
      revoked: revocations.size,
    },
    'mesh ready',
  );
  const clients: (() => void)[] = [];
  const also = options.alsoRevoked;
  const anyRevoked: RevocationList = also
    ? { isRevoked: (serial) => revocations.isRevoked(serial) || also.isRevoked(serial) }
    : revocations;
  const policy = (allowed: readonly string[]): PeerPolicy => ({
    trustDomain: bundle.trustDomain,
    allow: allowed.length === 0 ? undefined : new SpiffeAllowList(allowed),
    revocations: anyRevoked,
  });
  return {
    trustDomain: bundle.trustDomain,
    spiffeId,
    identity,
    bundle,
    revocations,
    server: ({ listener, clientCertificates, allowedSpiffeIds }) =>
      meshServerTls({
        identity,
        bundle,
        policy: policy(allowedSpiffeIds),
        clientCertificates,
        onRefused: (err, remoteAddress) =>
          logger.warn({ listener, code: err.code, remoteAddress, reason: err.message }, 'mesh: peer refused'),
      }),
    client: ({ spiffeIds, connectTimeoutMs }) => {
      const connector = meshConnector({ identity, bundle, policy: policy(spiffeIds), connectTimeoutMs });
      clients.push(connector.close);
      return connector.connect;
    },
    check: () => {
      if (identity.current.notAfter.getTime() <= Date.now()) {
        throw new MeshError('svid_issue_failed', 'the gateway SVID has expired and could not be renewed');
      }
    },
    close: () => {
      for (const close of clients) close();
      workload.close();
    },
  };
}
