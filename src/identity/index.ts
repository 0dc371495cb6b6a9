export {
  createAuthenticator,
  type Authenticator,
  type AuthenticatorOptions,
  type RevocationSubject,
} from './authenticate.js';
export type { EvictMatch } from './bearer.js';
export { tokenHash } from './token-cache.js';
export { VerifiedTokenCache } from './token-cache.js';
export { discoveryUrl } from './oidc-issuer.js';
