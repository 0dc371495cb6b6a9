// From `upstreams.<name>.attestation` to what RuntimeTrust needs: the reference values the
// evidence is matched against, and, for attestation-service tokens, a verifier for that service.
import type { AttestationConfig } from '../config/schema-attestation.js';
import { AzureAttestationVerifier } from '../runtime/attestation/azure-attestation.js';
import { EarVerifier } from '../runtime/attestation/ear.js';
import { GcpConfidentialSpaceVerifier } from '../runtime/attestation/gcp-confidential-space.js';
import type { EvidenceVerifier, ReferenceValues } from '../runtime/attestation/types.js';

/** Resolves a secret reference (file:, env:, sealed:) named by its config path. */
export type SecretResolver = (ref: string, where: string) => Promise<string>;

/** Drops undefined fields (the reference types are exact optional). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The reference values of one upstream's config (the signed policy bundle may override them). */
export async function referenceFromConfig(
  a: AttestationConfig,
  where: string,
  secret: SecretResolver,
): Promise<ReferenceValues> {
  return defined<ReferenceValues>({
    measurements: a.measurements,
    allowDebug: a.allowDebug,
    minTcb: a.minTcb,
    sevSnp: a.sevSnp ? defined(a.sevSnp) : undefined,
    dev: a.dev ? { publicKey: await secret(a.dev.publicKey, `${where}.dev.publicKey`) } : undefined,
    azure: a.azure ? defined(a.azure) : undefined,
    gcpConfidentialSpace: a.gcpConfidentialSpace ? defined(a.gcpConfidentialSpace) : undefined,
    ear: a.ear ? defined(a.ear) : undefined,
    ...(a.tdx ? { tdx: defined(a.tdx) } : {}),
  });
}

/**
 * The verifier for an attestation-service token kind, bound to the configured service (issuer
 * and keys pinned in config, never taken from the token); undefined for the other kinds, whose
 * verifier is shared.
 */
export async function serviceVerifier(
  a: AttestationConfig,
  where: string,
  secret: SecretResolver,
): Promise<EvidenceVerifier | undefined> {
  const s = a.service;
  if (!s) return undefined;
  const common = defined({ jwksUrl: s.jwksUrl, audience: s.audience, algorithms: s.algorithms });
  switch (a.kind) {
    case 'azure-attestation':
      return new AzureAttestationVerifier({ issuer: s.issuer as string, ...common });
    case 'gcp-confidential-space':
      return new GcpConfidentialSpaceVerifier({
        ...common,
        audience: s.audience as string | string[],
        ...(s.issuer ? { issuer: s.issuer } : {}),
      });
    case 'ear':
      return new EarVerifier({
        ...common,
        ...(s.issuer ? { issuer: s.issuer } : {}),
        ...(s.publicKey ? { publicKey: await secret(s.publicKey, `${where}.service.publicKey`) } : {}),
      });
    default:
      return undefined;
  }
}
