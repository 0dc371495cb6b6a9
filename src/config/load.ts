import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { configSchema, type ZtgateConfig } from './schema.js';

interface EnvOverride {
  readonly path: readonly string[];
  readonly integer?: boolean;
}

/** Environment variables that override config keys; nothing else from the environment is read. */
export const ENV_OVERRIDES: Readonly<Record<string, EnvOverride>> = {
  ZTGATE_STORE_URL: { path: ['store', 'url'] },
  ZTGATE_BUS_URL: { path: ['bus', 'url'] },
  ZTGATE_LOG_LEVEL: { path: ['logging', 'level'] },
  ZTGATE_DEMO_ISSUER_PORT: { path: ['demo', 'issuerPort'], integer: true },
  ZTGATE_DEMO_MODEL_PORT: { path: ['demo', 'modelPort'], integer: true },
};

/** Values given on the command line, applied last. */
export interface ConfigOverrides {
  readonly port?: number;
  readonly adminPort?: number;
  readonly demo?: boolean;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
    .join('.')
    .replace(/\.\[/g, '[');
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => `${formatPath([...issue.path, k])}: unknown key`).join('; ');
    }
    return `${formatPath(issue.path)}: ${issue.message}`;
  });
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined) node[key] = {};
    else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      throw new ConfigError([`${path.join('.')}: cannot override, ${key} is not a mapping`]);
    }
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Cross-field rules the schema alone cannot state. */
function crossCheck(config: ZtgateConfig): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  config.models.forEach((model, i) => {
    if (seen.has(model.id)) problems.push(`models[${i}].id: duplicate model id "${model.id}"`);
    seen.add(model.id);
    if (
      !Object.hasOwn(config.upstreams, model.upstream) &&
      !(config.demo.enabled && model.upstream === 'demo')
    ) {
      problems.push(`models[${i}].upstream: no upstream named "${model.upstream}" in upstreams`);
    }
    model.fallbacks.forEach((name, j) => {
      if (!Object.hasOwn(config.upstreams, name))
        problems.push(`models[${i}].fallbacks[${j}]: no upstream named "${name}" in upstreams`);
      else if (name === model.upstream || model.fallbacks.indexOf(name) !== j)
        problems.push(`models[${i}].fallbacks[${j}]: "${name}" is listed twice`);
    });
  });
  if (config.keys.provider === 'pkcs11' && !config.keys.pkcs11) {
    problems.push('keys.pkcs11: required when keys.provider is pkcs11');
  }
  if (
    config.keys.pkcs11 &&
    (config.keys.pkcs11.tokenLabel === undefined) === (config.keys.pkcs11.slot === undefined)
  ) {
    problems.push('keys.pkcs11: give exactly one of tokenLabel and slot');
  }
  if (config.keys.provider === 'vault-transit' && !config.keys.vault) {
    problems.push('keys.vault: required when keys.provider is vault-transit');
  }
  const issuers = new Set<string>();
  config.identity.issuers.forEach((iss, i) => {
    if (issuers.has(iss.issuer)) problems.push(`identity.issuers[${i}].issuer: duplicate issuer`);
    issuers.add(iss.issuer);
  });
  return problems;
}

/**
 * Parses and validates a configuration document. Throws ConfigError listing every problem with
 * the path of the bad key; the result is deeply frozen.
 */
export function parseConfig(
  yamlText: string,
  env: Readonly<Record<string, string | undefined>> = {},
  overrides: ConfigOverrides = {},
): ZtgateConfig {
  let raw: unknown;
  try {
    raw = parseYaml(yamlText, { uniqueKeys: true, maxAliasCount: 50, prettyErrors: true }) ?? {};
  } catch (err) {
    throw new ConfigError([
      `not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
    ]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(['(top level): must be a mapping of keys to values']);
  }
  const doc = raw as Record<string, unknown>;
  for (const [name, override] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    // A non-numeric value stays a string so that the schema reports it against the key's path.
    setPath(doc, override.path, override.integer && /^\d+$/.test(value) ? Number(value) : value);
  }
  if (overrides.port !== undefined) setPath(doc, ['server', 'port'], overrides.port);
  if (overrides.adminPort !== undefined) setPath(doc, ['server', 'adminPort'], overrides.adminPort);
  if (overrides.demo) setPath(doc, ['demo', 'enabled'], true);

  const result = configSchema.safeParse(doc);
  if (!result.success) throw new ConfigError(describeIssues(result.error.issues));
  const problems = crossCheck(result.data);
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(result.data);
}

/** Reads and validates a config file. */
export async function loadConfigFile(
  path: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
  overrides: ConfigOverrides = {},
): Promise<ZtgateConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError([`cannot read ${path}: ${code}`]);
  }
  return parseConfig(text, env, overrides);
}
