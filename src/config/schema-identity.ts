import { z } from 'zod';
import { ASYMMETRIC_ALGORITHMS, duration, positiveMs } from './schema-primitives.js';

/** The `identity` section: OIDC issuers, device posture, revocation, API keys (docs/IDENTITY.md). */

/** A claim name, or a dotted path into nested claims (`realm_access.roles`). */
const claimPath = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[\x21-\x7e]+$/, 'must be a claim name or dotted path (printable ASCII, no spaces)');

/** Where principal attributes come from in a token. Absent keys: see docs/CONFIGURATION.md. */
const claimMapping = z.strictObject({
  subject: claimPath.default('sub'),
  email: claimPath.default('email'),
  roles: claimPath.optional(),
  groups: claimPath.optional(),
  department: claimPath.optional(),
  clearance: claimPath.optional(),
  homeRegion: claimPath.optional(),
  /** The workspace (team, tenant, project) the principal works in: what a workspace quarantine targets. */
  workspace: claimPath.optional(),
});

// New issuer keys are optional (defaults applied in src/identity) so that IssuerConfig values
// built in code (the demo issuer) stay valid.
export const issuer = z.strictObject({
  issuer: z.url(),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  algorithms: z.array(z.enum(ASYMMETRIC_ALGORITHMS)).min(1).default(['RS256', 'ES256', 'EdDSA']),
  /** Overrides discovery; by default jwks_uri comes from the issuer's discovery document. */
  jwksUri: z.url().optional(),
  clockSkewSeconds: z.number().int().min(0).max(300).default(30),
  rolesClaim: z.string().min(1).default('roles'),
  groupsClaim: z.string().min(1).default('groups'),
  /** Least time between two JWKS fetches caused by tokens with an unknown `kid` (default 30). */
  jwksCooldownSeconds: z.number().int().min(1).max(3600).optional(),
  /** Claims that must be present, in addition to `exp` and the subject claim. */
  requiredClaims: z.array(claimPath).max(32).optional(),
  /** Claims that must have exactly this value (for example an Entra `tid`). */
  requiredClaimValues: z
    .record(claimPath, z.union([z.string().max(256), z.number(), z.boolean()]))
    .optional(),
  claims: claimMapping.optional(),
  /** Marks client-credentials tokens (no user): the principal becomes `kind: service`. */
  serviceClaim: z
    .strictObject({
      claim: claimPath,
      values: z.array(z.string().min(1).max(256)).min(1).max(64).optional(),
    })
    .optional(),
});

const devicePosture = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** The device-trust service (MDM/EDR) that signs posture assertions: exact `iss`. */
    issuer: z.url().optional(),
    /** Overrides discovery of the service's jwks_uri. */
    jwksUri: z.url().optional(),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    algorithms: z.array(z.enum(ASYMMETRIC_ALGORITHMS)).min(1).default(['RS256', 'ES256', 'EdDSA']),
    clockSkewSeconds: z.number().int().min(0).max(300).default(30),
    jwksCooldownSeconds: z.number().int().min(1).max(3600).default(30),
    header: z
      .string()
      .regex(/^[a-z0-9-]{1,64}$/)
      .refine((h) => !['authorization', 'cookie', 'host', 'proxy-authorization'].includes(h), {
        message: 'must not be a standard credential or routing header',
      })
      .default('x-device-posture'),
    maxAgeSeconds: z.number().int().min(10).max(86_400).default(300),
    binding: z.enum(['subject', 'cnf']).default('subject'),
    required: z.boolean().default(true),
    onInvalid: z.enum(['refuse', 'untrusted']).default('refuse'),
    onUnavailable: z.enum(['refuse', 'untrusted']).default('refuse'),
  })
  .superRefine((value, ctx) => {
    if (!value.enabled) return;
    if (!value.issuer) ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'required when enabled' });
    if (!value.audience)
      ctx.addIssue({ code: 'custom', path: ['audience'], message: 'required when enabled' });
  })
  .prefault({});

export const identity = z
  .strictObject({
    issuers: z.array(issuer).default([]),
    maxTokenBytes: z.number().int().min(256).max(65_536).default(8192),
    tokenCacheSize: z.number().int().min(0).max(1_000_000).default(10_000),
    jwksTimeoutMs: positiveMs.default(3000),
    devicePosture,
    revocation: z
      .strictObject({
        /** How long a revocation lasts when none is given: at least the longest token lifetime. */
        defaultTtl: duration.default(86_400_000),
        /** The longest a revocation may ask for. */
        maxTtl: duration.default(400 * 86_400_000),
        /** How often each replica polls for revocations its subscription missed. */
        resyncIntervalMs: z.number().int().min(50).max(1000).default(500),
      })
      .prefault({}),
    apiKeys: z
      .strictObject({
        /** Accept service API keys (`ztk_…`) as bearer tokens. */
        enabled: z.boolean().default(true),
        /** How long a verified key is trusted before the store is asked again (revocations are checked on every request). */
        cacheTtlMs: z.number().int().min(0).max(300_000).default(10_000),
        cacheSize: z.number().int().min(0).max(1_000_000).default(10_000),
      })
      .prefault({}),
  })
  .prefault({});
