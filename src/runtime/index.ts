export { createRouter, ROUTE_OBLIGATIONS, type CatalogueModel } from './router.js';
export { createConnector, CONNECTOR_KINDS } from './connectors/registry.js';
