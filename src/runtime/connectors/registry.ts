import type { UpstreamConnector } from '../../core/upstream.js';
import { createOpenAiCompatibleConnector } from './openai-compatible.js';

/**
 * The one place that knows every connector kind. A new wire protocol registers its factory
 * here; nothing else in the gateway branches on a connector's kind.
 */
export const CONNECTOR_KINDS = {
  'openai-compatible': createOpenAiCompatibleConnector,
} as const;

export type ConnectorKind = keyof typeof CONNECTOR_KINDS;

/** The options of any registered kind (each factory validates its own). */
export type ConnectorOptions = Parameters<(typeof CONNECTOR_KINDS)[ConnectorKind]>[1];

/** True when `kind` names a registered connector kind. */
export function isConnectorKind(kind: string): kind is ConnectorKind {
  return Object.hasOwn(CONNECTOR_KINDS, kind);
}

/** Builds a connector of a registered kind; throws for an unknown kind. */
export function createConnector(kind: string, id: string, options: ConnectorOptions): UpstreamConnector {
  if (!isConnectorKind(kind)) {
    const known = Object.keys(CONNECTOR_KINDS).join(', ');
    throw new Error(`upstream ${id}: unknown connector kind "${kind}" (known kinds: ${known})`);
  }
  const factory: (id: string, options: ConnectorOptions) => UpstreamConnector = CONNECTOR_KINDS[kind];
  return factory(id, options);
}
