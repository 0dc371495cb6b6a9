import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export const CONFIG_FILE = 'ztgate.yaml';

/** The home directory: config, keys, the SQLite database and run state. */
export interface HomePaths {
  readonly dir: string;
  readonly config: string;
  readonly keys: string;
  readonly runState: string;
}

export function homePaths(dir: string): HomePaths {
  const full = resolve(dir);
  return {
    dir: full,
    config: join(full, CONFIG_FILE),
    keys: join(full, 'keys'),
    runState: join(full, 'run.json'),
  };
}

/** The default home: `$ZTGATE_HOME`, else `./.ztgate`. */
export function defaultHome(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.ZTGATE_HOME && env.ZTGATE_HOME !== '' ? env.ZTGATE_HOME : '.ztgate';
}

const GENERATED_CONFIG = `# ztgate configuration, generated on first start. Every key: docs/CONFIGURATION.md
server:
  host: 127.0.0.1
  port: 8080
  adminHost: 127.0.0.1
  adminPort: 8081

store:
  url: sqlite:ztgate.db        # or postgres://user@host:5432/db to scale out

bus:
  url: "memory:"               # or redis://127.0.0.1:6379 for several replicas

# Keys (docs/KEYS.md). The default keeps keys in keys/keystore.json, sealed by a master key from
# ZTGATE_MASTER_KEY or keys/master.key: for a single node or development. For production use an
# HSM or Vault:
# keys:
#   provider: pkcs11
#   pkcs11: { module: /usr/lib/softhsm/libsofthsm2.so, tokenLabel: ztgate, pin: env:ZTGATE_HSM_PIN }
#   rotation: { periods: { config-secrets: 90d } }
keys:
  provider: local

# Demo mode (also turned on by \`ztgate up --demo\`): a built-in OpenID provider and a demo
# model that describes what it received. For a first look only; never for real traffic.
demo:
  enabled: false
  issuerPort: 8082
  modelPort: 8083

# A real model, for example OpenAI (credentials by reference only):
# upstreams:
#   openai:
#     kind: openai-compatible
#     baseUrl: https://api.openai.com/v1
#     apiKey: env:OPENAI_API_KEY      # or sealed:… from \`ztgate secret seal\`
# models:
#   - id: gpt-4o-mini
#     upstream: openai
#     upstreamModel: gpt-4o-mini
#
# Your identity provider:
# identity:
#   issuers:
#     - issuer: https://login.example.com/realms/corp
#       audience: ztgate
`;

/**
 * Creates the home directory (mode 0700) with a generated ztgate.yaml on first start. Returns
 * whether it was created now.
 */
export async function ensureHome(dir: string): Promise<{ paths: HomePaths; created: boolean }> {
  const paths = homePaths(dir);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  await mkdir(paths.keys, { recursive: true, mode: 0o700 });
  let created = false;
  try {
    await stat(paths.config);
  } catch {
    await writeFile(paths.config, GENERATED_CONFIG, { mode: 0o600, flag: 'wx' }).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    });
    created = true;
  }
  const info = await stat(paths.dir);
  if ((info.mode & 0o077) !== 0 && created) await chmod(paths.dir, 0o700);
  return { paths, created };
}

/** Where a running instance says it listens; read by `ztgate token`. */
export interface RunState {
  readonly pid: number;
  readonly dataPlane: string;
  readonly admin: string;
  readonly demoIssuer?: string;
  readonly demoModel?: string;
}

export async function writeRunState(paths: HomePaths, state: RunState): Promise<void> {
  await writeFile(paths.runState, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
}

export async function readRunState(paths: HomePaths): Promise<RunState | undefined> {
  try {
    return JSON.parse(await readFile(paths.runState, 'utf8')) as RunState;
  } catch {
    return undefined;
  }
}
