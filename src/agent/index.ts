/**
 * The runtime agent (`ztgate agent`): runs beside a model server, measures it (weights against
 * their signed manifest, its own code, its config), answers attestation challenges with evidence
 * bound to the challenge nonce and its TLS key, terminates mutual TLS (SPIFFE SVIDs, the
 * gateway's ID allowed) and forwards the OpenAI-compatible API to the model server. While a
 * measurement fails it is quarantined: it neither forwards nor attests.
 *
 * Replay: the agent answers a repeated nonce (it keeps no nonce history). Freshness is the
 * verifier's job: the gateway sends a new random nonce with each challenge and accepts evidence
 * only for the nonce it has outstanding (RuntimeTrust), so a replayed answer is refused there.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { meshServerTls, SpiffeAllowList, type PeerPolicy } from '../mesh/index.js';
import type { ModelTrust } from '../runtime/model-signing/index.js';
import { devEvidenceProducer, loadDevKey, type EvidenceProducer } from './evidence.js';
import { createForwarder } from './forward.js';
import { gatewayPattern, type AgentMesh } from './mesh.js';
import { MeasurementMonitor, type AgentState } from './monitor.js';
import { TokenBuckets } from './rate-limit.js';
import { agentHandler } from './server.js';

export { AGENT_SPIFFE_KIND, gatewayPattern, openAgentMesh, type AgentMesh } from './mesh.js';
export { DEV_KEY_FILE, devEvidenceProducer, loadDevKey, type EvidenceProducer } from './evidence.js';
export type { AgentState } from './monitor.js';
export type { Measurements, QuarantineReason } from './measure.js';
export { MAX_NONCE_BYTES, MIN_NONCE_BYTES, parseNonce } from './server.js';
export { upstreamUrl } from './forward.js';

export const DEFAULT_REMEASURE_MS = 60_000;
export const DEFAULT_LISTEN = { host: '0.0.0.0', port: 8443 } as const;

export interface AgentOptions {
  /** The model directory and its signature (OpenSSF model-signing bundle). */
  readonly modelDir: string;
  readonly signature: string;
  readonly trust: ModelTrust;
  readonly ignorePaths?: readonly string[];
  /** Files the trust came from, by role: part of the `config` measurement, re-read each time. */
  readonly configFiles?: Readonly<Record<string, string>>;
  /** The model server's OpenAI base URL (`http://127.0.0.1:8000/v1`). */
  readonly upstream: string;
  readonly listen?: { readonly host: string; readonly port: number };
  readonly mesh: AgentMesh;
  /** SPIFFE IDs or `/*` patterns allowed to connect; default the gateways of the trust domain. */
  readonly allowPeers?: readonly string[];
  readonly remeasureMs?: number;
  /** Re-measure on file change in the model directory (default true). */
  readonly watch?: boolean;
  /** Where the dev evidence key lives (created 0700, the key 0600). */
  readonly stateDir: string;
  /** The evidence producer; default `dev` with the key in stateDir. */
  readonly producer?: EvidenceProducer;
  /** The directory of the agent's code (default: the one this module runs from). */
  readonly codeRoot?: string;
  /** Attestation challenges per peer: burst and refill per second (default 10 and 1). */
  readonly rateLimit?: { readonly burst: number; readonly perSecond: number };
  readonly logger: Logger;
}

export interface RunningAgent {
  /** `https://host:port` as bound. */
  readonly url: string;
  readonly port: number;
  readonly spiffeId: string;
  readonly server: Server;
  readonly producer: EvidenceProducer;
  state(): AgentState | undefined;
  /** Measures now and returns the new state. */
  measure(): Promise<AgentState>;
  close(): Promise<void>;
}

/** The code directory: `dist/` for the built command, `src/` under tsx. */
export function defaultCodeRoot(): string {
  return fileURLToPath(new URL('..', import.meta.url));
}

function trustSettings(trust: ModelTrust): Record<string, unknown> {
  const digest = (value: string | Buffer | KeyObject): string =>
    createHash('sha256')
      .update(
        typeof value === 'string' || Buffer.isBuffer(value)
          ? value
          : value.export({ type: 'spki', format: 'der' }),
      )
      .digest('hex');
  return 'publicKey' in trust
    ? { publicKey: digest(trust.publicKey) }
    : { certificateChain: trust.certificateChain.map((pem) => digest(pem)) };
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Measures, then listens. Resolves once the agent serves (healthy or quarantined). */
export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const { mesh, logger } = options;
  const upstream = new URL(options.upstream);
  if (upstream.protocol !== 'http:' && upstream.protocol !== 'https:') {
    throw new Error(`--upstream must be an http(s) URL, not ${upstream.protocol}`);
  }
  const allowPeers = options.allowPeers?.length
    ? options.allowPeers
    : [gatewayPattern(mesh.spiffeId.trustDomain)];
  const allow = new SpiffeAllowList(allowPeers);
  const listen = options.listen ?? DEFAULT_LISTEN;
  const remeasureMs = options.remeasureMs ?? DEFAULT_REMEASURE_MS;
  let producer = options.producer;
  if (!producer) {
    const key = await loadDevKey(options.stateDir);
    if (key.created) logger.info({ path: key.path }, 'agent: generated the dev evidence key (0600)');
    producer = await devEvidenceProducer({ privateKey: key.privateKey, subject: mesh.spiffeId.id });
  }
  if (producer.insecure) {
    logger.warn(
      { kind: producer.kind, insecure: true, keyId: producer.keyId, publicKey: producer.publicKeyPem },
      'agent: INSECURE evidence: a software key signs it, no hardware root vouches for this runtime',
    );
  }
  const inflight = new Set<AbortController>();
  const monitor = new MeasurementMonitor({
    weights: {
      modelDir: resolve(options.modelDir),
      signature: resolve(options.signature),
      trust: options.trust,
      ...(options.ignorePaths ? { ignorePaths: options.ignorePaths } : {}),
    },
    codeRoot: options.codeRoot ?? defaultCodeRoot(),
    config: {
      settings: {
        modelDir: resolve(options.modelDir),
        signature: resolve(options.signature),
        ignorePaths: [...(options.ignorePaths ?? [])],
        trust: trustSettings(options.trust),
        upstream: upstream.href,
        listen: `${listen.host}:${listen.port}`,
        spiffeId: mesh.spiffeId.id,
        allowPeers: [...allowPeers],
        remeasureMs,
        evidence: producer.kind,
      },
      files: options.configFiles ?? {},
    },
    intervalMs: remeasureMs,
    ...(options.watch !== undefined ? { watch: options.watch } : {}),
    onChange: (state, previous) => {
      if (state.status === 'healthy') {
        logger.info(
          { measurements: state.measurements, model: state.model.name, files: state.model.items },
          previous ? 'agent: healthy again: measurements match' : 'agent: healthy: measurements match',
        );
        return;
      }
      logger.error(
        { code: state.reason.code, files: state.reason.files, reason: state.reason.message },
        'agent: QUARANTINED: refusing to forward and to attest',
      );
      for (const controller of inflight) controller.abort();
    },
    onWatchError: (err) =>
      logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'agent: file watch failed; the schedule still runs',
      ),
  });
  await monitor.start();

  const policy: PeerPolicy = { trustDomain: mesh.bundle.trustDomain, allow, revocations: mesh.revocations };
  const tls = meshServerTls({
    identity: mesh.identity,
    bundle: mesh.bundle,
    policy,
    clientCertificates: 'required',
    onRefused: (err, remoteAddress) =>
      logger.warn(
        { listener: 'agent', code: err.code, remoteAddress, reason: err.message },
        'mesh: peer refused',
      ),
  });
  const forwarder = createForwarder({
    upstream,
    onError: (err) =>
      logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'agent: forwarding failed'),
  });
  const handler = agentHandler({
    tls,
    state: () => monitor.state,
    producer,
    forwarder,
    buckets: new TokenBuckets(options.rateLimit?.burst ?? 10, options.rateLimit?.perSecond ?? 1),
    spiffeId: mesh.spiffeId.id,
    logger,
    inflight,
  });
  const server = createServer(tls.tlsOptions, handler);
  tls.attach(server);
  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject);
        resolveListen();
      });
    });
  } catch (err) {
    monitor.close();
    await forwarder.close();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  const url = `https://${hostForUrl(listen.host)}:${port}`;
  logger.info(
    { url, spiffeId: mesh.spiffeId.id, allowPeers, upstream: upstream.href, remeasureMs },
    'agent listening',
  );
  return {
    url,
    port,
    spiffeId: mesh.spiffeId.id,
    server,
    producer,
    state: () => monitor.state,
    measure: () => monitor.measure(),
    close: async () => {
      monitor.close();
      for (const controller of inflight) controller.abort();
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      });
      await forwarder.close();
    },
  };
}
