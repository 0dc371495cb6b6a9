import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every `.json` file under `dir`, recursively, in a stable order. */
export function jsonFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) return jsonFiles(full);
      return name.endsWith('.json') ? [full] : [];
    });
}
