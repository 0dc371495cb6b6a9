import { watch, type FSWatcher } from 'node:fs';

/**
 * Calls `onChange` once a burst of file changes under `dir` has been quiet for `debounceMs`
 * (editors and `git checkout` write several files; the bundle is checked once they are done).
 * A directory that cannot be watched is reported to `onError` and not retried.
 */
export function watchBundleDir(
  dir: string,
  debounceMs: number,
  onChange: () => void,
  onError: (err: Error) => void,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { recursive: true, persistent: false }, () => {
      clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
      timer.unref();
    });
    watcher.on('error', onError);
  } catch (err) {
    onError(err as Error);
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}
