import type { Logger } from 'pino';
import type { KeyManager } from '../keys/index.js';
import {
  BuiltInCa,
  builtInBundle,
  startMeshWorkload,
  SVID_DEFAULT_TTL_MS,
  type RevocationList,
  type WorkloadIdentity,
  type SpiffeId,
  type TrustBundle,
} from '../mesh/index.js';

/** The agent's place in the mesh: its renewing SVID, the trust bundle its peers chain to, revocations. */
export interface AgentMesh {
  readonly spiffeId: SpiffeId;
  readonly identity: WorkloadIdentity;
  readonly bundle: TrustBundle;
  readonly revocations: RevocationList;
  close(): void;
}

/** The SPIFFE kind of runtime agents: `spiffe://<trust-domain>/agent/<name>`. */
export const AGENT_SPIFFE_KIND = 'agent';

/** The default allow-list of an agent: any gateway of the trust domain. */
export function gatewayPattern(trustDomain: string): string {
  return `spiffe://${trustDomain}/gateway/*`;
}

export interface OpenAgentMeshOptions {
  /** A ztgate home holding the built-in CA (`ztgate ca init`). */
  readonly home: string;
  /** The key manager of that home: the CA keys stay in its key provider. */
  readonly keys: KeyManager;
  /** The agent's name: its SPIFFE ID is `spiffe://<trust-domain>/agent/<name>`. */
  readonly name: string;
  readonly ttlMs?: number;
  readonly logger: Logger;
}

/**
 * Opens the mesh as the gateway's `openMesh` does, for the agent's SPIFFE ID: loads the built-in
 * CA, obtains an SVID for a key generated in memory and renews it at two thirds of its lifetime,
 * and reloads `ca/revoked.json` when `ztgate ca revoke` changes it. Anything missing stops the
 * start (fail closed).
 */
export async function openAgentMesh(options: OpenAgentMeshOptions): Promise<AgentMesh> {
  const { home, keys, name, logger } = options;
  const ca = await BuiltInCa.load(keys, home);
  const bundle = builtInBundle(ca.trustDomain, ca.bundlePem);
  const workload = await startMeshWorkload({
    ca,
    home,
    kind: AGENT_SPIFFE_KIND,
    name,
    ttlMs: options.ttlMs ?? SVID_DEFAULT_TTL_MS,
    logger,
  });
  return { ...workload, bundle };
}
