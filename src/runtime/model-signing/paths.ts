/** Paths given on a command line, as model_signing's CLI reads them. */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { normalizeRelativePath } from './manifest.js';

/** The model-relative POSIX path of `path` (resolved from `cwd`) when it lies inside the model. */
export function relativeInside(modelPath: string, path: string, cwd = process.cwd()): string | undefined {
  const rel = relative(resolve(cwd, modelPath), resolve(cwd, path));
  if (rel === '' || isAbsolute(rel) || rel === '..' || rel.startsWith('..' + sep)) return undefined;
  return normalizeRelativePath(rel.split(sep).join('/'));
}

/**
 * An `--ignore-paths` value as a model-relative path: like model_signing, a path is resolved from
 * the working directory and kept when it lies in the model (`./model/ignore-me`); a relative path
 * that does not is read as relative to the model (`ignore-me`). Undefined when neither works.
 */
export function resolveIgnorePath(modelPath: string, path: string, cwd = process.cwd()): string | undefined {
  const inside = relativeInside(modelPath, path, cwd);
  if (inside !== undefined) return inside;
  if (isAbsolute(path)) return undefined;
  return normalizeRelativePath(path.split(sep).join('/'));
}
