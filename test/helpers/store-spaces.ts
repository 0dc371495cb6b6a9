import { after, before } from 'node:test';
import type { Store } from '../../src/store/index.js';

/** How a repository contract reaches one Store implementation. */
export interface StoreFixture {
  /** Opens a new, not yet migrated store on `space` (a database file, a PostgreSQL schema). */
  open(space: string): Promise<Store>;
  /** Runs raw SQL on a space (file and server databases only). */
  readonly sql?: (space: string, text: string) => Promise<unknown[]>;
  cleanup(): Promise<void>;
}

/**
 * Registers before/after hooks in the calling `describe` that build the fixture and, at the end,
 * close every store opened through it and clean the fixture up. `fresh()` is a migrated store on
 * a space of its own, so counts and listings start from zero.
 */
export function useStoreSpaces<F extends StoreFixture>(
  makeFixture: () => Promise<F>,
  prefix: string,
): { fixture(): F; open(space: string): Promise<Store>; fresh(): Promise<Store> } {
  let fixture: F | undefined;
  const opened: Store[] = [];
  let spaces = 0;
  before(async () => {
    fixture = await makeFixture();
  });
  after(async () => {
    for (const store of opened) await store.close().catch(() => undefined);
    await fixture?.cleanup();
  });
  const current = (): F => {
    if (!fixture) throw new Error('the store fixture is not ready');
    return fixture;
  };
  const open = async (space: string): Promise<Store> => {
    const store = await current().open(space);
    opened.push(store);
    return store;
  };
  return {
    fixture: current,
    open,
    fresh: async () => {
      const store = await open(`${prefix}${++spaces}`);
      await store.migrate();
      return store;
    },
  };
}
