import { statSync, watch, type FSWatcher } from 'node:fs';

const REARM_CHECK_MS = 2000;

function inodeOf(dir: string): number | undefined {
  try {
    return statSync(dir).ino;
  } catch {
    return undefined;
  }
}

/**
 * Calls `onChange` once a burst of file changes under `dir` has been quiet for `debounceMs`
 * (editors and `git checkout` write several files; the bundle is checked once they are done).
 * A directory replaced as a whole (deleted and recreated, or renamed into place by a deploy
 * tool) is noticed by a periodic check of its inode: the watch is re-armed on the new directory
 * and `onChange` called. Watch failures go to `onError`; the periodic check keeps trying.
 */
export function watchBundleDir(
  dir: string,
  debounceMs: number,
  onChange: () => void,
  onError: (err: Error) => void,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let watched: number | undefined;
  const changed = (): void => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
    timer.unref();
  };
  const arm = (): void => {
    watcher?.close();
    watcher = undefined;
    watched = inodeOf(dir);
    if (watched === undefined) return;
    try {
      watcher = watch(dir, { recursive: true, persistent: false }, changed);
      watcher.on('error', (err) => {
        watcher?.close();
        watcher = undefined;
        watched = undefined;
        onError(err);
      });
    } catch (err) {
      watched = undefined;
      onError(err as Error);
    }
  };
  arm();
  const check = setInterval(() => {
    const now = inodeOf(dir);
    if (now !== undefined && now !== watched) {
      arm();
      changed();
    }
  }, REARM_CHECK_MS);
  check.unref();
  return () => {
    clearInterval(check);
    clearTimeout(timer);
    watcher?.close();
  };
}
