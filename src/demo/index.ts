/** DEMO ONLY: the loopback OpenID provider of `ztgate up --demo` and the client of `ztgate token`. */
export { startDemoIssuer } from './issuer.js';
export type { DemoIssuer, DemoIssuerOptions } from './issuer.js';
export {
  DEMO_CLIENT_ID,
  DEMO_GRANT_TYPE,
  DemoTokenError,
  demoClientPath,
  readDemoClient,
  requestDemoToken,
} from './token-client.js';
export type { DemoTokenRequest } from './token-client.js';
export { startDemoModel } from './model-server.js';
export type { DemoModel, DemoModelOptions } from './model-server.js';
