// Same-origin calls to the admin listener: session cookie, CSRF token on every non-GET request.

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }

  /** The signed-in user may not do this (policy refused it). */
  get forbidden(): boolean {
    return this.code === 'admin_forbidden';
  }
}

let csrfToken = '';
const unauthenticatedListeners = new Set<() => void>();

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** Called when a request answers 401: the session ended. */
export function onUnauthenticated(listener: () => void): () => void {
  unauthenticatedListeners.add(listener);
  return () => unauthenticatedListeners.delete(listener);
}

export interface ApiResponse<T> {
  readonly status: number;
  readonly body: T;
}

export async function request<T>(
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  accept: 'json' | 'text' = 'json',
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { accept: accept === 'json' ? 'application/json' : 'text/plain' };
  const init: RequestInit = { method, credentials: 'same-origin', headers };
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    headers['x-csrf-token'] = csrfToken;
    init.body = JSON.stringify(body ?? {});
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let code = `http_${response.status}`;
    let message = response.statusText || `HTTP ${response.status}`;
    try {
      const error = ((await response.json()) as { error?: { code?: string; message?: string } }).error;
      if (error?.code) code = error.code;
      if (error?.message) message = error.message;
    } catch {
      // not a JSON error body
    }
    if (response.status === 401) for (const listener of unauthenticatedListeners) listener();
    throw new ApiError(response.status, code, message);
  }
  const parsed = accept === 'json' ? ((await response.json()) as T) : ((await response.text()) as T);
  return { status: response.status, body: parsed };
}

export async function get<T>(path: string): Promise<T> {
  return (await request<T>('GET', path)).body;
}

export async function getText(path: string): Promise<string> {
  return (await request<string>('GET', path, undefined, 'text')).body;
}

export function post<T>(path: string, body?: unknown): Promise<ApiResponse<T>> {
  return request<T>('POST', path, body);
}

/** `path?k=v&…` without the empty values. */
export function withQuery(
  path: string,
  query: Readonly<Record<string, string | number | undefined>>,
): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export function describeError(err: unknown): string {
  if (err instanceof ApiError) return err.forbidden ? 'Not permitted' : `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}
