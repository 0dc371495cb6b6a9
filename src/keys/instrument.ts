import type { KeyProvider } from './types.js';

/** Told after each provider call: its name, how long it took, and `ok` or the error's code. */
export type ProviderObserver = (operation: string, seconds: number, outcome: string) => void;

const NOT_OPERATIONS = new Set<PropertyKey>(['kind', 'description', 'close', 'constructor']);

/**
 * The same provider, with every operation timed and its outcome reported (for metrics). Optional
 * operations a provider lacks stay absent, so callers still take their fallbacks.
 */
export function instrumentProvider(provider: KeyProvider, observe: ProviderObserver): KeyProvider {
  return new Proxy(provider, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || NOT_OPERATIONS.has(property) || typeof property !== 'string') {
        return typeof value === 'function' ? value.bind(target) : value;
      }
      const operation = property;
      return async (...args: unknown[]) => {
        const started = performance.now();
        try {
          const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          observe(operation, (performance.now() - started) / 1000, 'ok');
          return result;
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          observe(operation, (performance.now() - started) / 1000, typeof code === 'string' ? code : 'error');
          throw err;
        }
      };
    },
  });
}
