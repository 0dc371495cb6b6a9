import { controlAuditEntry } from '../gateway/control-audit.js';
import { createApiKey, isApiKeyId } from '../identity/api-keys.js';
import { RevocationList } from '../identity/revocation-list.js';
import type { ApiKeyRecord } from '../store/index.js';
import { parse, UsageError } from './args.js';
import { parseExpiry } from './duration.js';
import { withStoreContext, type StoreContext } from './key-context.js';

export const APIKEY_USAGE = `ztgate apikey create --service NAME [--scope SCOPE]... [--expires 90d|ISO-DATE] [--json] [--home DIR]
ztgate apikey list [--service NAME] [--json] [--home DIR]
ztgate apikey revoke ID [--home DIR]
ztgate apikey expire ID [--home DIR]
  API keys for service accounts (ztk_<id>_<secret>). create prints the key once: only its hash is
  stored. revoke and expire are permanent; with a Redis bus running gateways refuse the key at
  once, otherwise within their key cache time (10 s). Every operation is recorded in the audit log.`;

const SERVICE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const SCOPE = /^[a-z0-9][a-z0-9:._*-]{0,63}$/;
/** How long a bus revocation of a revoked or expired key lasts: longer than any verifier's cache. */
const BUS_REVOCATION_MS = 3_600_000;

type Action = (context: StoreContext) => Promise<number>;

function print(text: string): number {
  process.stdout.write(text + '\n');
  return 0;
}

function stateOf(key: ApiKeyRecord, now: number): 'active' | 'expired' | 'revoked' {
  if (key.revokedAt !== null) return 'revoked';
  if (key.expiresAt !== null && Date.parse(key.expiresAt) <= now) return 'expired';
  return 'active';
}

/** A key without its hash: what list and create show. */
function shown(key: ApiKeyRecord, now: number) {
  const { id, service, scopes, createdAt, expiresAt, revokedAt, lastUsedAt } = key;
  return { id, service, state: stateOf(key, now), scopes, createdAt, expiresAt, revokedAt, lastUsedAt };
}

function describeKey(key: ApiKeyRecord, now: number): string {
  const scopes = key.scopes.length > 0 ? key.scopes.join(',') : '-';
  return [
    key.id,
    key.service,
    stateOf(key, now),
    scopes,
    `created ${key.createdAt}`,
    `expires ${key.expiresAt ?? 'never'}`,
    `last used ${key.lastUsedAt ?? 'never'}`,
  ].join('\t');
}

function idArg(positionals: readonly string[]): string {
  const id = positionals[1];
  if (!id || positionals.length !== 2) throw new UsageError('expected one API key ID');
  if (!isApiKeyId(id)) throw new UsageError('ID must be an API key id (12 characters of a-z and 2-7)');
  return id;
}

async function audit(
  context: StoreContext,
  action: string,
  id: string,
  details: readonly string[],
  errorCode?: string,
): Promise<void> {
  await context.store.audit.append(
    controlAuditEntry({
      action: `apikey.${action}`,
      target: `apikey:${id}`,
      actor: context.actor,
      authMethod: 'cli',
      outcome: errorCode ? 'failed' : 'ok',
      details,
      ...(errorCode ? { errorCode } : {}),
    }),
  );
}

/** Tells running gateways through a shared bus, so that cached verifications end at once. */
async function announce(context: StoreContext, id: string, reason: string): Promise<string> {
  if (!context.bus) {
    return 'gateways sharing this store refuse it within their key cache time (10 s)';
  }
  const list = new RevocationList({ bus: context.bus, snapshotIntervalMs: 0 });
  try {
    await list.revoke({ kind: 'apikey', value: id, reason, ttlMs: BUS_REVOCATION_MS, actor: context.actor });
  } finally {
    await list.close();
  }
  return 'running gateways refuse it now';
}

function createAction(values: {
  service?: string;
  scope?: string[];
  expires?: string;
  json?: boolean;
}): Action {
  const service = values.service;
  if (!service || !SERVICE.test(service)) {
    throw new UsageError('--service NAME is required: 1-64 characters of a-z, 0-9, ".", "_" and "-"');
  }
  const scopes = values.scope ?? [];
  for (const scope of scopes) {
    if (!SCOPE.test(scope))
      throw new UsageError(`--scope must be 1-64 characters of a-z, 0-9, ":", ".", "_", "*", "-"`);
  }
  if (scopes.length > 32) throw new UsageError('at most 32 --scope options');
  const now = new Date();
  const expiresAt = values.expires === undefined ? null : parseExpiry(values.expires, now);
  return async (context) => {
    const { key, record } = await createApiKey(context.store.apiKeys, { service, scopes, expiresAt, now });
    const details = [
      `service:${service}`,
      `scopes:${record.scopes.join(',')}`,
      `expires:${record.expiresAt ?? 'never'}`,
    ];
    try {
      await audit(context, 'create', record.id, details);
    } catch (err) {
      // An unaudited key must not exist: take it back before failing.
      await context.store.apiKeys.revoke(record.id, new Date().toISOString()).catch(() => undefined);
      throw err;
    }
    if (values.json) return print(JSON.stringify({ ...shown(record, Date.now()), key }, null, 2));
    process.stdout.write(`id\t${record.id}\nkey\t${key}\n`);
    process.stderr.write('This is the only time the key is shown: store it now.\n');
    return 0;
  };
}

async function listAll(context: StoreContext, service: string | undefined): Promise<ApiKeyRecord[]> {
  const all: ApiKeyRecord[] = [];
  for (;;) {
    const after = all.at(-1)?.id;
    const page = await context.store.apiKeys.list({
      limit: 1000,
      ...(service ? { service } : {}),
      ...(after ? { after } : {}),
    });
    all.push(...page);
    if (page.length < 1000) return all;
  }
}

function changeAction(sub: 'revoke' | 'expire', id: string): Action {
  return async (context) => {
    const at = new Date().toISOString();
    const record =
      sub === 'revoke'
        ? await context.store.apiKeys.revoke(id, at)
        : await context.store.apiKeys.expire(id, at);
    if (!record) {
      await audit(context, sub, id, [], 'not_found');
      process.stderr.write(`ztgate apikey ${sub}: not_found: no API key ${id}\n`);
      return 1;
    }
    const details = [`service:${record.service}`];
    await audit(context, sub, id, details);
    const effect = await announce(context, id, sub === 'revoke' ? 'api key revoked' : 'api key expired');
    return print(`${sub === 'revoke' ? 'revoked' : 'expired'} ${id} (service ${record.service}); ${effect}`);
  };
}

/** `ztgate apikey …`. */
export async function apikeyCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    home: { type: 'string' },
    json: { type: 'boolean' },
    service: { type: 'string' },
    scope: { type: 'string', multiple: true },
    expires: { type: 'string' },
  });
  const sub = positionals[0];
  let action: Action;
  switch (sub) {
    case 'create':
      if (positionals.length !== 1) throw new UsageError('apikey create takes no arguments');
      action = createAction(values);
      break;
    case 'list': {
      if (positionals.length !== 1) throw new UsageError('apikey list takes no arguments');
      const service = values.service;
      if (service !== undefined && !SERVICE.test(service))
        throw new UsageError('--service is not a service name');
      action = async (context) => {
        const keys = await listAll(context, service);
        const now = Date.now();
        if (values.json)
          return print(
            JSON.stringify(
              keys.map((k) => shown(k, now)),
              null,
              2,
            ),
          );
        return print(keys.length === 0 ? '(no api keys)' : keys.map((k) => describeKey(k, now)).join('\n'));
      };
      break;
    }
    case 'revoke':
    case 'expire':
      action = changeAction(sub, idArg(positionals));
      break;
    default:
      throw new UsageError('expected: apikey create|list|revoke|expire');
  }
  return withStoreContext(values.home, `apikey ${sub}`, action);
}
