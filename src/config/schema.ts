import { z } from 'zod';
import { prompts, systemPrompt } from './schema-prompts.js';
import { watch } from './schema-watch.js';

/**
 * The one schema for ztgate.yaml (and the ZTGATE_* environment overrides merged into it).
 * Every object is strict: an unknown key is an error naming its path. Each field's default and
 * failure behaviour is documented in docs/CONFIGURATION.md (a test keeps the two in step).
 */

import { port, positiveMs, host, secretRef, spiffeIdPattern } from './schema-primitives.js';
import { identity, type issuer } from './schema-identity.js';
import { keys } from './schema-keys.js';
import { ledger } from './schema-ledger.js';
import { mesh } from './schema-mesh.js';
import { guard } from './schema-guard.js';
import { attestation } from './schema-attestation.js';
import { consoleSchema } from './schema-console.js';

export { bootstrapSecretRef, secretRef } from './schema-primitives.js';

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
  /** The runtime must prove what it runs (docs/RUNTIME-TRUST.md) before it gets traffic. */
  attestation: attestation.optional(),
  /** Where this runtime runs; unset: the region of the model it serves. `route:region=…` obligations choose among runtimes by it. */
  region: z.string().min(1).max(64).optional(),
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

/** The data classes a model may receive when its config does not say: never `restricted`. */
export function defaultDataClasses(runtimeKind: 'cloud' | 'on_prem'): string[] {
  return runtimeKind === 'on_prem' ? ['public', 'internal', 'confidential'] : ['public', 'internal'];
}

const modelEntry = z.strictObject({
  id: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9._:/-]+$/),
  upstream: z.string().min(1),
  /** Other upstreams serving the same model, tried in order when an earlier one's runtime is not eligible. */
  fallbacks: z.array(z.string().min(1)).max(16).default([]),
  upstreamModel: z.string().min(1).max(256),
  /** A signed system-prompt template (`prompts`) put first in every chat request to this model. */
  systemPrompt: systemPrompt.optional(),
  description: z.string().max(500).optional(),
  /** What policy knows about the model (the Cedar `Model` entity). */
  attributes: z
    .strictObject({
      provider: z.string().min(1).max(64).default('unknown'),
      region: z.string().min(1).max(64).default('unknown'),
      runtimeKind: z.enum(['cloud', 'on_prem']).default('cloud'),
      attestationKind: z.string().min(1).max(64).default('none'),
      attested: z.boolean().default(false),
      /** Unset: `public, internal, confidential` on premises, `public, internal` in a cloud. */
      dataClasses: z.array(z.string().min(1).max(64)).max(64).optional(),
      workspaces: z.array(z.string().min(1).max(128)).max(64).default([]),
    })
    .prefault({})
    .transform((a) => ({ ...a, dataClasses: a.dataClasses ?? defaultDataClasses(a.runtimeKind) })),
});

const policy = z
  .strictObject({
    /** A Cedar policy bundle directory (relative to home); unset: the built-in bundle. */
    bundle: z.string().min(1).optional(),
    /** Reload the bundle when a file in its directory changes. */
    watch: z.boolean().default(true),
    /** A candidate bundle evaluated beside the live one on real traffic, never enforced. */
    shadow: z.string().min(1).optional(),
    /** `fast`: condition guards decide what they can be certain of; `cedar`: cedar-wasm decides everything. */
    evaluator: z.enum(['fast', 'cedar']).default('fast'),
    /** Share of fast decisions re-decided by cedar-wasm alone after the answer, to catch disagreement. */
    verifySample: z.number().min(0).max(1).default(0.01),
    /** Tell the client which policy denied (`policy_denied` gains its id); off by default. */
    showDenyingPolicy: z.boolean().default(false),
    /** Refuse a bundle without a valid signature (`ztgate policy sign`) by one of `signingKeys`. */
    requireSigned: z.boolean().default(false),
    /** Key names (in the key provider) whose signatures on a bundle are trusted. */
    signingKeys: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/))
      .min(1)
      .default(['policy-signing']),
    /** The class of a request nothing raises (the classifier only raises it: docs/GUARD.md). */
    dataClass: z.enum(['public', 'internal', 'confidential', 'restricted']).default('internal'),
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
    guard,
    ledger,
    prompts: prompts.optional(),
    watch,
    demo,
    logging,
    console: consoleSchema.prefault({}),
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
      if (upstream.attestation && !upstream.mtls) {
        const message = 'needs mtls on the same upstream (evidence is bound to the mutual-TLS key)';
        ctx.addIssue({ code: 'custom', path: ['upstreams', name, 'attestation'], message });
      }
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
    config.models.forEach((m, i) => {
      if (m.systemPrompt && !config.prompts)
        ctx.addIssue({
          code: 'custom',
          path: ['models', i, 'systemPrompt'],
          message: 'needs prompts (the signed templates directory)',
        });
    });
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
