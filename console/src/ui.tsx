// Shared pieces of the pages: data loading, error and "Not permitted" states, a confirm dialog.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, describeError, get } from './api.js';

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: unknown;
  readonly loading: boolean;
  readonly reload: () => void;
}

/** GETs `path` (re-fetching when it changes); `null` skips the request. */
export function useGet<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({
    loading: path !== null,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    get<T>(path).then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [path, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** The error of a section: "Not permitted" for admin_forbidden, the message otherwise. */
export function ErrorNote({ error }: { readonly error: unknown }) {
  if (error instanceof ApiError && error.forbidden) {
    return (
      <p class="notice notice-forbidden" role="alert">
        Not permitted: your account may not see or do this.
      </p>
    );
  }
  return (
    <p class="notice notice-error" role="alert">
      {describeError(error)}
    </p>
  );
}

/** Renders children with the data, or the loading / error state. */
export function Section<T>(props: {
  readonly loaded: Loaded<T>;
  readonly children: (data: T) => ComponentChildren;
}) {
  const { data, error, loading } = props.loaded;
  if (error !== undefined) return <ErrorNote error={error} />;
  if (data === undefined) return <p class="muted">{loading ? 'Loading…' : 'No data.'}</p>;
  return <>{props.children(data)}</>;
}

/** A modal <dialog> asking to confirm an action; `onClose(true)` when confirmed. */
export function ConfirmDialog(props: {
  readonly title: string;
  readonly children: ComponentChildren;
  readonly confirmLabel: string;
  readonly onClose: (confirmed: boolean) => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="confirm-title" onCancel={() => props.onClose(false)}>
      <h2 id="confirm-title">{props.title}</h2>
      <div>{props.children}</div>
      <div class="actions">
        <button type="button" onClick={() => props.onClose(false)}>
          Cancel
        </button>
        <button type="button" class="danger" data-testid="confirm" onClick={() => props.onClose(true)}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

export function Time({ value }: { readonly value: string | number | undefined }) {
  if (value === undefined) return <span class="muted">—</span>;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return <span>{String(value)}</span>;
  return <time dateTime={date.toISOString()}>{date.toISOString().replace('T', ' ').slice(0, 19)}Z</time>;
}

export function Badge({ kind, children }: { readonly kind: string; readonly children: ComponentChildren }) {
  return <span class={`badge badge-${kind}`}>{children}</span>;
}

export function List({ items }: { readonly items: readonly string[] | undefined }) {
  if (!items || items.length === 0) return <span class="muted">none</span>;
  return <span>{items.join(', ')}</span>;
}
