import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { defaultHome, homePaths } from '../config/index.js';
import {
  BuiltInCa,
  caPaths,
  derToPem,
  MeshError,
  newWorkloadKey,
  normalizeSerial,
  parseWorkloadId,
  readRevocations,
  recordRevocation,
  writeFileAtomic,
} from '../mesh/index.js';
import { controlAuditEntry } from '../gateway/control-audit.js';
import { parse, UsageError } from './args.js';
import { reportKeyError, withKeyContext, type KeyContext } from './key-context.js';

export const CA_USAGE = `ztgate ca init [--trust-domain example.org] [--home DIR]
ztgate ca show [--home DIR]
ztgate ca issue --spiffe-id spiffe://TRUST-DOMAIN/KIND/NAME [--ttl 24h] --out DIR [--home DIR]
ztgate ca revoke SERIAL [--reason TEXT] [--home DIR]
  The built-in CA of the mesh (docs/MESH.md). init creates a root and an intermediate CA whose
  private keys stay in the key provider (mesh-root-ca, mesh-intermediate-ca); only certificates
  are written, to <home>/ca/. issue writes a workload SVID: DIR/svid.pem (certificate chain),
  DIR/svid_key.pem (private key, mode 0600) and DIR/svid_bundle.pem (the root). revoke adds a
  serial number to <home>/ca/revoked.json, which a running gateway reloads within a second.`;

const DEFAULT_TRUST_DOMAIN = 'ztgate.internal';
const UNITS_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MIN_TTL_MS = 10_000;
const MAX_TTL_MS = 365 * 86_400_000;

function ttlArg(text: string | undefined): number {
  if (text === undefined) return 24 * 3_600_000;
  const match = /^([1-9][0-9]{0,5})([smhd])$/.exec(text);
  if (!match) throw new UsageError('--ttl must be a duration such as 24h, 30m or 7d');
  const ms = Number(match[1]) * UNITS_MS[match[2] as keyof typeof UNITS_MS];
  if (ms < MIN_TTL_MS || ms > MAX_TTL_MS) throw new UsageError('--ttl must be between 10s and 365d');
  return ms;
}

function describe(label: string, pem: string): string {
  const cert = new X509Certificate(pem);
  return [
    `${label}: ${cert.subject.replace(/\n/g, ', ')}`,
    `  serial ${normalizeSerial(cert.serialNumber)}, valid ${cert.validFrom} to ${cert.validTo}`,
    `  SHA-256 ${cert.fingerprint256}`,
  ].join('\n');
}

/** A control-plane audit row for a CA operation: ids and outcome, never key material. */
function caAudit(context: KeyContext, action: string, target: string): Promise<unknown> {
  return context.store.audit.append(
    controlAuditEntry({ action, target, actor: context.actor, authMethod: 'cli', outcome: 'ok' }),
  );
}

async function show(home: string | undefined): Promise<number> {
  const paths = caPaths(homePaths(home ?? defaultHome()).dir);
  try {
    const trustDomain = (await readFile(paths.trustDomain, 'utf8')).trim();
    const root = await readFile(paths.root, 'utf8');
    const intermediate = await readFile(paths.intermediate, 'utf8');
    const revoked = await readRevocations(paths.revoked);
    process.stdout.write(
      [
        `trust domain: ${trustDomain}`,
        describe('root', root),
        describe('intermediate', intermediate),
        `revoked serials: ${revoked.length === 0 ? 'none' : revoked.map((r) => r.serial).join(' ')}`,
        '',
        root.trimEnd(),
        intermediate.trimEnd(),
        '',
      ].join('\n'),
    );
    return 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return reportKeyError(
        'ca show',
        new MeshError('ca_not_initialized', 'no built-in CA here: run ztgate ca init'),
      );
    }
    return reportKeyError('ca show', err);
  }
}

async function issue(context: KeyContext, spiffeId: string, ttlMs: number, out: string): Promise<number> {
  const ca = await BuiltInCa.load(context.service.keys, context.home);
  const id = parseWorkloadId(spiffeId);
  const { publicKey, privateKey } = newWorkloadKey();
  const issued = await ca.issueSvid(id, publicKey, ttlMs);
  const dir = resolve(out);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir, 'svid.pem'), issued.chain.map(derToPem).join(''), 0o644);
  await writeFileAtomic(
    join(dir, 'svid_key.pem'),
    privateKey.export({ type: 'pkcs8', format: 'pem' }),
    0o600,
  );
  await writeFileAtomic(join(dir, 'svid_bundle.pem'), ca.bundlePem, 0o644);
  await caAudit(context, 'ca.issue', `svid:${id.id}#${issued.serial}`);
  process.stdout.write(
    `issued ${id.id}\nserial ${issued.serial}\nnot after ${issued.notAfter.toISOString()}\n` +
      `wrote ${join(dir, 'svid.pem')}, ${join(dir, 'svid_key.pem')} (0600), ${join(dir, 'svid_bundle.pem')}\n`,
  );
  return 0;
}

/** `ztgate ca …`. */
export async function caCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    home: { type: 'string' },
    'trust-domain': { type: 'string' },
    'spiffe-id': { type: 'string' },
    ttl: { type: 'string' },
    out: { type: 'string' },
    reason: { type: 'string' },
  });
  const sub = positionals[0];
  switch (sub) {
    case 'init': {
      if (positionals.length !== 1) throw new UsageError('ca init takes no arguments');
      const trustDomain = values['trust-domain'] ?? DEFAULT_TRUST_DOMAIN;
      return withKeyContext(values.home, 'ca init', async (context) => {
        const ca = await BuiltInCa.init(context.service.keys, context.home, trustDomain, context.actor);
        await caAudit(context, 'ca.init', `ca:spiffe://${ca.trustDomain}`);
        process.stdout.write(
          `created the built-in CA for trust domain ${ca.trustDomain}; its keys are in the ${context.service.keys.provider.kind} key provider\n` +
            `${describe('root', ca.bundlePem)}\n${describe('intermediate', ca.intermediatePem)}\n`,
        );
        return 0;
      });
    }
    case 'show':
      if (positionals.length !== 1) throw new UsageError('ca show takes no arguments');
      return show(values.home);
    case 'issue': {
      if (positionals.length !== 1) throw new UsageError('ca issue takes options only');
      const spiffeId = values['spiffe-id'];
      if (!spiffeId) throw new UsageError('--spiffe-id is required');
      if (!values.out) throw new UsageError('--out DIR is required');
      const ttlMs = ttlArg(values.ttl);
      const out = values.out;
      return withKeyContext(values.home, 'ca issue', (context) => issue(context, spiffeId, ttlMs, out));
    }
    case 'revoke': {
      const text = positionals[1];
      if (!text || positionals.length !== 2) throw new UsageError('expected one SERIAL (hex)');
      let serial: string;
      try {
        serial = normalizeSerial(text);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      return withKeyContext(values.home, 'ca revoke', async (context) => {
        const added = await recordRevocation(caPaths(context.home).revoked, serial, values.reason);
        if (added) await caAudit(context, 'ca.revoke', `certificate:${serial}`);
        process.stdout.write(added ? `revoked ${serial}\n` : `${serial} was already revoked\n`);
        return 0;
      });
    }
    default:
      throw new UsageError('expected: ca init|show|issue|revoke');
  }
}
