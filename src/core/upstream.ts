import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from './api.js';

export interface UpstreamCallOptions {
  /** Aborted when the client goes away or the call times out. */
  readonly signal: AbortSignal;
  readonly requestId: string;
}

/** An open stream of answer chunks from a model runtime. */
export interface UpstreamStream extends AsyncIterable<ChatCompletionChunk> {
  /** Stops reading and releases the connection. */
  cancel(): void;
}

/**
 * A model runtime that speaks some wire protocol. Implementations live in `runtime/connectors/`
 * and are registered in one place; nothing outside a connector branches on its kind.
 */
export interface UpstreamConnector {
  readonly id: string;
  readonly kind: string;
  chat(body: ChatRequest, options: UpstreamCallOptions): Promise<ChatCompletion>;
  /** Resolves once the runtime accepted the request (status 2xx); iterate for chunks. */
  chatStream(body: ChatRequest, options: UpstreamCallOptions): Promise<UpstreamStream>;
  embeddings(body: EmbeddingsRequest, options: UpstreamCallOptions): Promise<EmbeddingsResponse>;
  /** Throws when the runtime is not reachable (used by /readyz). */
  probe(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
