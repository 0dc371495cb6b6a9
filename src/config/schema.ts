import { z } from 'zod';

/**
 * The one schema for ztgate.yaml (and the ZTGATE_* environment overrides merged into it).
 * Every object is strict: an unknown key is an error naming its path. Each field's default and
 * failure behaviour is documented in docs/CONFIGURATION.md (a test keeps the two in step).
 */

const port = z.number().int().min(0).max(65535);
const positiveMs = z.number().int().min(1).max(3_600_000);
const host = z.string().min(1).max(253);

/**
 * A secret the key provider itself needs (its PIN, its token): `env:NAME` or `file:PATH`, never
 * `sealed:` (sealed values are opened by the key provider).
 */
export const bootstrapSecretRef = z
  .string()
  .regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$/, 'must be a secret reference: env:NAME or file:PATH');

/**
 * A secret is never written in the config itself: `env:NAME`, `file:PATH`, or
 * `sealed:<key-id>:<ciphertext>` (made by `ztgate secret seal`).
 */
export const secretRef = z
  .string()
  .regex(
    /^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+|sealed:[a-z0-9][a-z0-9-]{0,62}@[1-9][0-9]{0,8}:[A-Za-z0-9_-]{40,})$/,
    'must be a secret reference: env:NAME, file:PATH or sealed:<key-id>:<ciphertext>',
  );

const DURATION_UNITS_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration such as `90d`, `12h`, `30m` or `45s`, in milliseconds. */
const duration = z
  .string()
  .regex(/^[1-9][0-9]{0,5}[smhd]$/, 'must be a duration such as 90d, 12h, 30m or 45s')
  .transform(
    (text) => Number(text.slice(0, -1)) * DURATION_UNITS_MS[text.slice(-1) as keyof typeof DURATION_UNITS_MS],
  );

const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

/**
 * A SPIFFE ID (`spiffe://trust-domain/path`) or a prefix pattern ending in `/*`
 * (`spiffe://trust-domain/agent/*`). Checked strictly again at start by src/mesh/spiffe.ts.
 */
const spiffeIdPattern = z
  .string()
  .max(2048)
  .regex(
    /^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._-]+)*(\/\*)?$/,
    'must be a SPIFFE ID spiffe://trust-domain/path, or a pattern ending in /*',
  )
  .refine((id) => !/\/\.{1,2}(\/|$)/.test(id), 'must not have . or .. path segments')
  .refine((id) => /^spiffe:\/\/[^/]+\/./.test(id), 'must have a path (spiffe://trust-domain/kind/name)');

/** Mutual TLS on the data plane (its server certificate is the gateway's SVID). */
const dataPlaneTls = z.strictObject({
  /** `off`: TLS only; `optional`: a client certificate is verified when sent; `required`. */
  clientCertificates: z.enum(['off', 'optional', 'required']).default('off'),
  /** SPIFFE IDs whose certificates are accepted; empty: any SVID of the mesh's trust domain. */
  allowedSpiffeIds: z.array(spiffeIdPattern).default([]),
});

const server = z
  .strictObject({
    /** Address the data plane binds to. */
    host: host.default('127.0.0.1'),
    /** Data-plane port (OpenAI-compatible API). 0 picks a free port. */
    port: port.default(8080),
    /** Address the admin listener binds to. */
    adminHost: host.default('127.0.0.1'),
    /** Admin port (health, readiness, metrics). 0 picks a free port. */
    adminPort: port.default(8081),
    /** When present, the data plane serves HTTPS with the gateway's SVID (needs mesh.enabled). */
    tls: dataPlaneTls.optional(),
    /** The admin listener serves mutual TLS: a client SVID on adminAllowedSpiffeIds is required. */
    adminTls: z.boolean().default(false),
    adminAllowedSpiffeIds: z.array(spiffeIdPattern).default([]),
  })
  .prefault({});

const limits = z
  .strictObject({
    bodyBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    jsonDepth: z.number().int().min(2).max(256).default(32),
    messages: z.number().int().min(1).max(10_000).default(256),
    headerBytes: z
      .number()
      .int()
      .min(1024)
      .max(256 * 1024)
      .default(16 * 1024),
    headersTimeoutMs: positiveMs.default(10_000),
    requestTimeoutMs: positiveMs.default(30_000),
    idleTimeoutMs: positiveMs.default(120_000),
    keepAliveTimeoutMs: positiveMs.default(5_000),
  })
  .prefault({});

const store = z
  .strictObject({
    url: z.string().min(1).default('sqlite:ztgate.db'),
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/)
      .optional(),
    poolSize: z.number().int().min(1).max(200).default(10),
  })
  .prefault({});

const bus = z
  .strictObject({
    url: z.string().min(1).default('memory:'),
    keyPrefix: z.string().max(64).default('ztgate:'),
  })
  .prefault({});

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
});

// New issuer keys are optional (defaults applied in src/identity) so that IssuerConfig values
// built in code (the demo issuer) stay valid.
const issuer = z.strictObject({
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

const identity = z
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

const upstream = z.strictObject({
  kind: z.literal('openai-compatible'),
  baseUrl: z.url(),
  apiKey: secretRef.optional(),
  authHeader: z
    .string()
    .regex(/^[a-z0-9-]+$/)
    .default('authorization'),
  extraHeaders: z.record(z.string().regex(/^[a-z0-9-]+$/), z.string()).default({}),
  ca: secretRef.optional(),
  /** Mutual TLS with SPIFFE IDs: the gateway presents its SVID and accepts only these server IDs. */
  mtls: z.strictObject({ spiffeIds: z.array(spiffeIdPattern).min(1) }).optional(),
  retries: z.number().int().min(0).max(5).default(1),
  maxConnections: z.number().int().min(1).max(4096).default(128),
  timeouts: z
    .strictObject({
      connectMs: positiveMs.default(5000),
      headersMs: positiveMs.default(60_000),
      bodyMs: positiveMs.default(60_000),
      totalMs: positiveMs.default(300_000),
    })
    .prefault({}),
});

const modelEntry = z.strictObject({
  id: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9._:/-]+$/),
  upstream: z.string().min(1),
  upstreamModel: z.string().min(1).max(256),
  description: z.string().max(500).optional(),
  /** What policy knows about the model (the Cedar `Model` entity). */
  attributes: z
    .strictObject({
      provider: z.string().min(1).max(64).default('unknown'),
      region: z.string().min(1).max(64).default('unknown'),
      runtimeKind: z.enum(['cloud', 'on_prem']).default('cloud'),
      attestationKind: z.string().min(1).max(64).default('none'),
      attested: z.boolean().default(false),
      dataClasses: z.array(z.string().min(1).max(64)).max(64).default([]),
      workspaces: z.array(z.string().min(1).max(128)).max(64).default([]),
    })
    .prefault({}),
});

const policy = z
  .strictObject({
    /** A Cedar policy bundle directory (relative to home); unset: the built-in rule (allow authenticated callers). */
    bundle: z.string().min(1).optional(),
    /** Tell the client which policy denied (`policy_denied` gains its id); off by default. */
    showDenyingPolicy: z.boolean().default(false),
    /** Refuse a bundle without a valid signature (`ztgate policy sign`) by one of `signingKeys`. */
    requireSigned: z.boolean().default(false),
    /** Key names (in the key provider) whose signatures on a bundle are trusted. */
    signingKeys: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/))
      .min(1)
      .default(['policy-signing']),
    /** The request's data class until a classifier sets one (issue 6). */
    dataClass: z.string().min(1).max(64).default('internal'),
    /** The network zone requests arrive from (the `networkZone` context). */
    networkZone: z.string().min(1).max(64).default('internal'),
  })
  .prefault({});

const stageTimeouts = z
  .strictObject({
    authenticate: positiveMs.default(5000),
    inspect: positiveMs.default(2000),
    decide: positiveMs.default(1000),
    transform: positiveMs.default(2000),
    route: positiveMs.default(1000),
    scan_output: positiveMs.default(2000),
    record: positiveMs.default(5000),
  })
  .prefault({});

const demo = z
  .strictObject({
    enabled: z.boolean().default(false),
    issuerPort: port.default(8082),
    modelPort: port.default(8083),
    audience: z.string().min(1).default('ztgate'),
  })
  .prefault({});

const keyName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a key name: a-z, 0-9 and dashes');

const keys = z
  .strictObject({
    /** Where keys live: `local` (sealed file; one node or development), `pkcs11` (HSM), `vault-transit`. */
    provider: z.enum(['local', 'pkcs11', 'vault-transit']).default('local'),
    local: z
      .strictObject({
        /** Master key file (relative to home), used when ZTGATE_MASTER_KEY is not set. */
        masterKeyFile: z.string().min(1).default('keys/master.key'),
      })
      .prefault({}),
    pkcs11: z
      .strictObject({
        module: z.string().min(1),
        tokenLabel: z.string().min(1).max(32).optional(),
        slot: z.number().int().min(0).optional(),
        pin: bootstrapSecretRef,
        labelPrefix: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,16}$/)
          .default('ztgate'),
        /** Sessions opened on the token: how many key operations run at once. */
        sessions: z.number().int().min(1).max(64).default(4),
      })
      .optional(),
    vault: z
      .strictObject({
        address: z.url(),
        token: bootstrapSecretRef,
        mount: z
          .string()
          .regex(/^[A-Za-z0-9_-][A-Za-z0-9_/-]{0,127}$/)
          .default('transit'),
        namespace: z.string().min(1).max(256).optional(),
        ca: bootstrapSecretRef.optional(),
        timeoutMs: positiveMs.default(5000),
      })
      .optional(),
    dataKeyCache: z
      .strictObject({
        maxAgeMs: positiveMs.default(300_000),
        maxUses: z
          .number()
          .int()
          .min(1)
          .max(2 ** 32)
          .default(100_000),
        maxBytes: z
          .number()
          .int()
          .min(1)
          .max(2 ** 40)
          .default(2 ** 30),
        maxEntries: z.number().int().min(0).max(1_000_000).default(1000),
      })
      .prefault({}),
    rotation: z
      .strictObject({
        checkInterval: duration.default(3_600_000),
        periods: z.record(keyName, duration).default({}),
      })
      .prefault({}),
  })
  .prefault({});

/** Mutual TLS between ztgate's components with SPIFFE IDs (docs/MESH.md). */
const mesh = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** Peers' trust domain; default: the built-in CA's. Required with trustBundle. */
    trustDomain: z
      .string()
      .regex(/^[a-z0-9._-]{1,255}$/, 'must be a trust domain: a-z 0-9 . - _')
      .optional(),
    /** The gateway's own SVID is spiffe://<built-in CA trust domain>/gateway/<name>. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/)
      .refine((n) => n !== '.' && n !== '..', 'must not be . or ..')
      .default('ztgate'),
    /** Lifetime of the gateway's SVID; renewed at two thirds. 1s (tests) to 30d. */
    svidTtl: duration
      .pipe(
        z
          .number()
          .min(1000)
          .max(30 * 86_400_000),
      )
      .default(86_400_000),
    /** `file:PATH`: PEM CA certificates or a SPIFFE bundle (JWKS) that replaces the built-in CA's root. */
    trustBundle: z
      .string()
      .regex(/^file:.+$/, 'must be file:PATH')
      .optional(),
  })
  .prefault({});

const logging = z
  .strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .prefault({});

export const configSchema = z
  .strictObject({
    server,
    limits,
    store,
    bus,
    identity,
    upstreams: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), upstream).default({}),
    models: z.array(modelEntry).default([]),
    pipeline: z.strictObject({ stageTimeoutsMs: stageTimeouts }).prefault({}),
    keys,
    mesh,
    policy,
    demo,
    logging,
  })
  .superRefine((config, ctx) => {
    // Mesh cross-checks (the other cross-field rules are in load.ts).
    const needsMesh = (path: (string | number)[], what: string): void => {
      if (!config.mesh.enabled)
        ctx.addIssue({ code: 'custom', path, message: `${what} needs mesh.enabled: true` });
    };
    if (config.server.tls) needsMesh(['server', 'tls'], 'TLS on the data plane');
    if (config.server.adminTls) {
      needsMesh(['server', 'adminTls'], 'mutual TLS on the admin listener');
      if (config.server.adminAllowedSpiffeIds.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['server', 'adminAllowedSpiffeIds'],
          message: 'required (at least one SPIFFE ID) when server.adminTls is on',
        });
      }
    }
    for (const [name, upstream] of Object.entries(config.upstreams)) {
      if (!upstream.mtls) continue;
      needsMesh(['upstreams', name, 'mtls'], 'mutual TLS to an upstream');
      if (!upstream.baseUrl.startsWith('https:')) {
        ctx.addIssue({
          code: 'custom',
          path: ['upstreams', name, 'baseUrl'],
          message: 'must be https: with mtls',
        });
      }
      if (upstream.ca) {
        ctx.addIssue({
          code: 'custom',
          path: ['upstreams', name, 'ca'],
          message: 'not used with mtls (the mesh trust bundle verifies the server)',
        });
      }
    }
    if (config.mesh.trustBundle && !config.mesh.trustDomain) {
      ctx.addIssue({
        code: 'custom',
        path: ['mesh', 'trustDomain'],
        message: 'required with mesh.trustBundle',
      });
    }
  });

export type ZtgateConfig = z.infer<typeof configSchema>;
export type UpstreamConfig = z.infer<typeof upstream>;
export type IssuerConfig = z.infer<typeof issuer>;
export type ModelConfig = z.infer<typeof modelEntry>;
export type KeysConfig = z.infer<typeof keys>;
