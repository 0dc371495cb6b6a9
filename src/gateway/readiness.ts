import type { IssuerConfig } from '../config/index.js';
import type { UpstreamConnector } from '../core/index.js';
import { discoveryUrl } from '../identity/index.js';
import type { KeyManager } from '../keys/index.js';
import type { Mesh } from '../mesh/index.js';
import type { StateBus, Store } from '../store/index.js';
import type { ReadinessCheck } from './admin.js';

/** What /readyz asks: every dependency a request may need. */
export function readinessChecks(parts: {
  readonly store: Store;
  readonly bus: StateBus;
  readonly keys: KeyManager;
  readonly identityChecks: readonly ReadinessCheck[];
  readonly mesh: Mesh | undefined;
  readonly connectors: ReadonlyMap<string, UpstreamConnector>;
  readonly issuers: readonly IssuerConfig[];
}): ReadinessCheck[] {
  const { store, bus, keys, mesh } = parts;
  return [
    { name: `store:${store.kind}`, check: () => store.ping() },
    { name: `bus:${bus.kind}`, check: () => bus.ping() },
    { name: `keys:${keys.provider.kind}`, check: () => keys.provider.ping() },
    ...parts.identityChecks,
    ...(mesh ? [{ name: 'mesh:svid', check: async () => mesh.check() }] : []),
    ...[...parts.connectors.values()].map((c) => ({
      name: `upstream:${c.id}`,
      check: (s: AbortSignal) => c.probe(s),
    })),
    ...parts.issuers.map((iss) => ({
      name: `issuer:${iss.issuer}`,
      check: async (signal: AbortSignal) => {
        const url = iss.jwksUri ?? discoveryUrl(iss.issuer);
        const res = await fetch(url, { signal, redirect: 'error' });
        await res.body?.cancel();
        if (!res.ok) throw new Error(`issuer answered ${res.status}`);
      },
    })),
  ];
}
