import { useEffect, useState } from 'preact/hooks';
import { getText } from './api.js';

/** GETs a text/plain resource (/metrics, the checkpoint). */
export function useText(path: string): { data?: string; error?: unknown } {
  const [state, setState] = useState<{ data?: string; error?: unknown }>({});
  useEffect(() => {
    let live = true;
    getText(path).then(
      (data) => live && setState({ data }),
      (error: unknown) => live && setState({ error }),
    );
    return () => {
      live = false;
    };
  }, [path]);
  return state;
}
