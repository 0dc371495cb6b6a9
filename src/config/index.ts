export { ConfigError } from './errors.js';
export { ENV_OVERRIDES, loadConfigFile, parseConfig, type ConfigOverrides } from './load.js';
export {
  configSchema,
  defaultDataClasses,
  type IssuerConfig,
  type ModelConfig,
  type UpstreamConfig,
  type ZtgateConfig,
} from './schema.js';
export { resolveSecret, type Unsealer } from './secrets.js';
export {
  CONFIG_FILE,
  defaultHome,
  ensureHome,
  homePaths,
  readRunState,
  writeRunState,
  type HomePaths,
  type RunState,
} from './home.js';
