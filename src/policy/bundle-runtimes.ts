import {
  bundleRuntimesSchema,
  type BundleRuntimeReference,
} from '../runtime/attestation/reference-schema.js';
import { parsePlaybooks, PlaybookError, type Playbook } from '../watch/playbook-schema.js';
import { PolicyBundleError } from './errors.js';

/** The bundle file holding runtime reference values (covered by the bundle digest and signature). */
export const RUNTIMES_FILE = 'runtimes.json';

/**
 * Parses `runtimes.json`: approved measurements and launch reference values per attested
 * upstream. Absent: none (config's stand). Throws `policy.runtimes_invalid` naming the field.
 */
export function parseBundleRuntimes(text: string | undefined): ReadonlyMap<string, BundleRuntimeReference> {
  if (text === undefined) return new Map();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new PolicyBundleError('policy.runtimes_invalid', `${RUNTIMES_FILE} is not valid JSON`);
  }
  const parsed = bundleRuntimesSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new PolicyBundleError(
      'policy.runtimes_invalid',
      `${RUNTIMES_FILE}: ${first ? `${first.path.join('.')}: ${first.message}` : 'invalid'}`,
    );
  }
  return new Map(Object.entries(parsed.data.upstreams));
}

/** The bundle file holding incident playbooks (covered by the digest and signature like the rest). */
export const PLAYBOOKS_FILE = 'playbooks.yaml';

/** Parses `playbooks.yaml`; absent: undefined. Throws `policy.playbooks_invalid` listing the problems. */
export function parseBundlePlaybooks(text: string | undefined): readonly Playbook[] | undefined {
  if (text === undefined) return undefined;
  try {
    return parsePlaybooks(text);
  } catch (err) {
    const problems = err instanceof PlaybookError ? err.problems : [(err as Error).message];
    throw new PolicyBundleError(
      'policy.playbooks_invalid',
      `${PLAYBOOKS_FILE}: ${problems.slice(0, 5).join('; ')}`,
    );
  }
}
