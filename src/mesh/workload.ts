import type { Logger } from 'pino';
import type { BuiltInCa } from './ca.js';
import { caPaths } from './ca.js';
import { MeshError } from './errors.js';
import { WorkloadIdentity } from './identity.js';
import { InMemoryRevocationList, readRevocations, watchRevocations } from './revocation.js';
import { workloadId, type SpiffeId } from './spiffe.js';
import { newSvid } from './svid.js';

/** A workload's running place in the mesh: its renewing SVID and the CA's revocation list. */
export interface MeshWorkload {
  readonly spiffeId: SpiffeId;
  readonly identity: WorkloadIdentity;
  readonly revocations: InMemoryRevocationList;
  close(): void;
}

/**
 * Obtains an SVID `spiffe://<trust domain>/<kind>/<name>` from the built-in CA for a key generated
 * in memory, renews it at two thirds of its lifetime, and reloads `ca/revoked.json` when
 * `ztgate ca revoke` changes it. Shared by the gateway (`gateway/…`) and runtime agents (`agent/…`).
 */
export async function startMeshWorkload(options: {
  readonly ca: BuiltInCa;
  readonly home: string;
  readonly kind: string;
  readonly name: string;
  readonly ttlMs: number;
  readonly logger: Logger;
}): Promise<MeshWorkload> {
  const { ca, kind, logger } = options;
  const revokedPath = caPaths(options.home).revoked;
  const revocations = new InMemoryRevocationList((await readRevocations(revokedPath)).map((e) => e.serial));
  const spiffeId = workloadId(ca.trustDomain, kind, options.name);
  const identity = await WorkloadIdentity.start(() => newSvid(ca, spiffeId, options.ttlMs), {
    onError: (err) =>
      logger.error(
        {
          code: err instanceof MeshError ? err.code : undefined,
          err: err instanceof Error ? err.message : String(err),
        },
        `mesh: renewing the ${kind} SVID failed; retrying`,
      ),
    onRenewed: (svid) =>
      logger.info(
        { spiffeId: spiffeId.id, serial: svid.serial, notAfter: svid.notAfter },
        `mesh: ${kind} SVID renewed`,
      ),
  });
  const stopWatching = watchRevocations(revokedPath, revocations, {
    onError: (err) =>
      logger.error(
        { err: err instanceof Error ? err.message : String(err) },
        'mesh: revocation list not reloaded',
      ),
  });
  return {
    spiffeId,
    identity,
    revocations,
    close: () => {
      stopWatching();
      identity.close();
    },
  };
}
