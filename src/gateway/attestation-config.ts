// From `upstreams.<name>.attestation` to what RuntimeTrust needs: the reference values the
// evidence is matched against, and, for attestation-service tokens, a verifier for that service.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { AttestationConfig } from '../config/schema-attestation.js';
import { TdxVerifier } from '../runtime/attestation/tdx.js';
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
    tdx: a.tdx ? defined(a.tdx) : undefined,
  });
}

/**
 * The verifier of one runtime when its config gives it one: an attestation-service token kind,
 * bound to the configured service (issuer and keys pinned in config, never taken from the token),
 * or TDX with Intel collateral; undefined otherwise (the kind's shared verifier).
 */
export async function serviceVerifier(
  a: AttestationConfig,
  where: string,
  secret: SecretResolver,
  home: string,
): Promise<EvidenceVerifier | undefined> {
  if (a.kind === 'tdx' && a.tdxCollateral) {
    const c = a.tdxCollateral;
    const file = (path: string, name: string) =>
      readFile(resolve(home, path), 'utf8').catch((err: Error) => {
        throw new Error(`${where}.tdxCollateral.${name}: ${err.message}`);
      });
    const bytes = (path: string) => readFile(resolve(home, path));
    return new TdxVerifier({
      collateral: {
        tcbInfo: await file(c.tcbInfo, 'tcbInfo'),
        qeIdentity: await file(c.qeIdentity, 'qeIdentity'),
        tcbSigningChain: await file(c.tcbSigningChain, 'tcbSigningChain'),
        ...(c.pckCrl ? { pckCrl: await bytes(c.pckCrl) } : {}),
        ...(c.rootCrl ? { rootCrl: await bytes(c.rootCrl) } : {}),
      },
    });
  }
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
