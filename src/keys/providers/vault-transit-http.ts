/**
 * The HTTP side of the vault-transit provider: one JSON request to Vault, the token in
 * X-Vault-Token (and the namespace in X-Vault-Namespace), the answer unwrapped from Vault's envelope,
 * failures turned into KeyErrors whose messages never hold the token.
 *
 * Shapes, from Vault's HTTP API overview (https://developer.hashicorp.com/vault/api-docs):
 * - success: `{request_id, lease_id, renewable, lease_duration, data, wrap_info, warnings, auth}`
 *   with 200, or 204 and no body;
 * - failure: `{"errors": ["..."]}` with 400 (invalid request), 403 (missing/invalid token or policy:
 *   "permission denied", plus "invalid token" since Vault 1.17, hashicorp/vault#26687), 404 (nothing
 *   there: also an empty LIST, hashicorp/vault#26819), 5xx (internal error; 503 sealed or standby);
 * - LIST may also be sent as `GET ...?list=true` (node's HTTP parser cannot carry a LIST method).
 */
import { Agent, request } from 'undici';
import { KeyError } from '../errors.js';

export interface VaultHttpOptions {
  readonly address: string;
  readonly token: string;
  readonly namespace?: string;
  readonly caPem?: string;
  readonly timeoutMs: number;
}

export interface VaultAnswer {
  readonly status: number;
  /** The envelope's `data` (an object), when there is one. */
  readonly data: Readonly<Record<string, unknown>> | undefined;
  readonly warnings: readonly string[];
  readonly errors: readonly string[];
}

type Method = 'GET' | 'POST' | 'DELETE';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Parses and checks the configured address: http(s), no credentials, no query. */
export function parseVaultAddress(address: string): URL {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new KeyError(
      'invalid_argument',
      'vault-transit: the address is not a URL (e.g. https://vault:8200)',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new KeyError('invalid_argument', 'vault-transit: the address must be an http:// or https:// URL');
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new KeyError('invalid_argument', 'vault-transit: the address must not hold credentials or a query');
  }
  return url;
}

export class VaultHttp {
  private readonly agent: Agent;
  private readonly base: URL;
  /** Printable form of the address (origin and path prefix). */
  readonly where: string;

  constructor(private readonly options: VaultHttpOptions) {
    this.base = parseVaultAddress(options.address);
    this.where = `${this.base.origin}${this.base.pathname.replace(/\/+$/, '')}`;
    this.agent = new Agent({
      connect: {
        timeout: options.timeoutMs,
        ...(options.caPem === undefined ? {} : { ca: options.caPem }),
      },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /** Removes the token from text that came from elsewhere (Vault's errors, socket errors). */
  scrub(text: string): string {
    const token = this.options.token;
    return token.length >= 4 ? text.split(token).join('[redacted]') : text;
  }

  /**
   * Sends one request under /v1/. Network failures, timeouts and 503 throw `provider_unreachable`,
   * 401/403 `provider_denied`, other 5xx `provider_error`; 2xx and the remaining 4xx are returned for
   * the caller to read in context.
   */
  async call(
    what: string,
    method: Method,
    path: string,
    body?: Readonly<Record<string, unknown>>,
    query?: string,
  ): Promise<VaultAnswer> {
    const url = new URL(this.base.href);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/${path}`;
    if (query) url.search = query;
    const headers: Record<string, string> = {
      'x-vault-token': this.options.token,
      accept: 'application/json',
    };
    if (this.options.namespace) headers['x-vault-namespace'] = this.options.namespace;
    if (body) headers['content-type'] = 'application/json';
    let status: number;
    let text: string;
    try {
      const res = await request(url, {
        method,
        headers,
        ...(body ? { body: JSON.stringify(body) } : {}),
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      // Deliberately no `cause`: the request that failed carried the token in a header.
      const code = isRecord(err) && typeof err.code === 'string' ? err.code : (err as Error).name;
      throw new KeyError(
        'provider_unreachable',
        this.scrub(`vault-transit: ${what}: cannot reach Vault at ${this.where} (${code})`),
      );
    }
    const answer = parseAnswer(status, text);
    if (status === 401 || status === 403) {
      throw new KeyError('provider_denied', this.message(what, answer, 'Vault refused the token'));
    }
    if (status === 503) {
      throw new KeyError('provider_unreachable', this.message(what, answer, 'Vault is sealed or on standby'));
    }
    if (status >= 500 || (status < 400 && (status < 200 || status >= 300))) {
      throw new KeyError('provider_error', this.message(what, answer, 'unexpected answer'));
    }
    return answer;
  }

  /** An operator-facing message: the operation, the status and Vault's own error text. */
  message(what: string, answer: VaultAnswer, gist: string): string {
    const errors = answer.errors.length ? `: ${answer.errors.join('; ')}` : '';
    return this.scrub(`vault-transit: ${what}: ${gist} (HTTP ${answer.status}${errors})`);
  }

  /** The KeyError for an answer the caller did not expect. */
  unexpected(what: string, answer: VaultAnswer): KeyError {
    return new KeyError('provider_error', this.message(what, answer, 'unexpected answer'));
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

function parseAnswer(status: number, text: string): VaultAnswer {
  let json: unknown = undefined;
  if (text.trim()) {
    try {
      json = JSON.parse(text);
    } catch {
      return { status, data: undefined, warnings: [], errors: [`(not JSON: ${text.slice(0, 80)})`] };
    }
  }
  if (!isRecord(json)) return { status, data: undefined, warnings: [], errors: [] };
  return {
    status,
    data: isRecord(json.data) ? json.data : undefined,
    warnings: strings(json.warnings),
    errors: strings(json.errors),
  };
}
