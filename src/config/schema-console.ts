import { z } from 'zod';
import { duration, secretRef } from './schema-primitives.js';

/**
 * The `console` section: the security console served on the admin listener, and how its users
 * sign in (OIDC authorization code + PKCE, backend-for-frontend; docs/CONFIGURATION.md).
 */
export const consoleSchema = z.strictObject({
  /** Serve the console (static files, sign-in, sessions) on the admin listener. */
  enabled: z.boolean().default(true),
  /** The OIDC issuer users sign in with; one of identity.issuers. Unset: the demo issuer in demo mode. */
  issuer: z.url().optional(),
  /** The console's client at that issuer. */
  clientId: z.string().min(1).max(256).default('ztgate-console'),
  /** Confidential client: authenticates with client_secret_basic. Unset: a public client (PKCE only). */
  clientSecret: secretRef.optional(),
  /** The registered redirect URI (`<admin origin>/console/callback`); unset: from the Host of a loopback request. */
  redirectUri: z
    .url()
    .refine((u) => /^https?:$/.test(new URL(u).protocol), 'must be http: or https:')
    .refine((u) => new URL(u).pathname === '/console/callback', 'must end in /console/callback')
    .optional(),
  /** How long a console session lasts after sign-in. */
  sessionTtl: duration.default(8 * 3_600_000),
});

export type ConsoleConfig = z.infer<typeof consoleSchema>;
