export { createAuthenticator, type AuthenticatorOptions } from './authenticate.js';
export { VerifiedTokenCache } from './token-cache.js';
export { discoveryUrl } from './oidc-issuer.js';
