/**
 * The OpenAI-compatible request and response shapes the pipeline works on. Only the fields
 * ztgate reads are typed; every other field is carried through unchanged.
 */

export interface ChatContentPart {
  readonly type: string;
  readonly text?: string;
  readonly [key: string]: unknown;
}

export interface ChatMessage {
  readonly role: string;
  readonly content?: string | readonly ChatContentPart[] | null;
  readonly name?: string;
  readonly [key: string]: unknown;
}

export interface ChatRequest {
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly stream?: boolean;
  readonly stream_options?: { readonly include_usage?: boolean } | null;
  readonly max_tokens?: number | null;
  readonly max_completion_tokens?: number | null;
  readonly [key: string]: unknown;
}

export interface EmbeddingsRequest {
  readonly model: string;
  readonly input: string | readonly string[] | readonly number[] | readonly (readonly number[])[];
  readonly [key: string]: unknown;
}

export type ModelRequest =
  | { readonly route: 'chat.completions'; readonly body: ChatRequest }
  | { readonly route: 'embeddings'; readonly body: EmbeddingsRequest };

export type ApiRoute = ModelRequest['route'];

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens?: number;
  readonly total_tokens: number;
  readonly [key: string]: unknown;
}

export interface ChatCompletion {
  readonly id: string;
  readonly object: 'chat.completion';
  readonly created: number;
  readonly model: string;
  readonly choices: readonly {
    readonly index: number;
    readonly message: ChatMessage;
    readonly finish_reason: string | null;
    readonly [key: string]: unknown;
  }[];
  readonly usage?: Usage | null;
  readonly [key: string]: unknown;
}

export interface ChatCompletionChunk {
  readonly id: string;
  readonly object: 'chat.completion.chunk';
  readonly created: number;
  readonly model: string;
  readonly choices: readonly {
    readonly index: number;
    readonly delta: {
      readonly role?: string;
      readonly content?: string | null;
      readonly [key: string]: unknown;
    };
    readonly finish_reason: string | null;
    readonly [key: string]: unknown;
  }[];
  readonly usage?: Usage | null;
  readonly [key: string]: unknown;
}

export interface EmbeddingsResponse {
  readonly object: 'list';
  readonly data: readonly {
    readonly object: 'embedding';
    readonly index: number;
    readonly embedding: unknown;
  }[];
  readonly model: string;
  readonly usage?: Usage;
  readonly [key: string]: unknown;
}

export type ModelResponse =
  | { readonly route: 'chat.completions'; readonly body: ChatCompletion }
  | { readonly route: 'embeddings'; readonly body: EmbeddingsResponse };
