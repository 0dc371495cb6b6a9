export { createRouter, type CatalogueModel } from './router.js';
export { createConnector, CONNECTOR_KINDS } from './connectors/registry.js';
