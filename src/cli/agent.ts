import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import {
  DEFAULT_LISTEN,
  DEFAULT_REMEASURE_MS,
  openAgentMesh,
  startAgent,
  type AgentMesh,
  type EvidenceProducer,
} from '../agent/index.js';
import { commandProducer, configfsTsmProducer } from '../agent/hardware-evidence.js';
import { defaultHome } from '../config/index.js';
import type { ModelTrust } from '../runtime/model-signing/index.js';
import { parse, portArg, UsageError, expandMultiValues } from './args.js';
import { parseDuration } from './duration.js';
import { openKeyContext, reportKeyError, type KeyContext } from './key-context.js';
import { createLogger } from './logger.js';

export const AGENT_USAGE = `ztgate agent --model-dir DIR --signature FILE (--public-key PEM | --certificate-chain PEM…)
    --upstream URL [--listen HOST:PORT] [--home DIR] [--spiffe-name NAME] [--remeasure 60s]
    [--allow-peer SPIFFE-ID-OR-PATTERN…] [--ignore-paths P…]
    [--evidence dev | sev-snp | tdx | azure-attestation | gcp-confidential-space | ear]
    [--vcek DER] [--privlevel N] [--tsm-root DIR] [--evidence-command PROGRAM ARG…]
  Runs the runtime agent beside a model server. It verifies DIR against its model-signing
  signature and hashes its own code and config at start, every --remeasure and when a file in DIR
  changes; while a measurement fails it is quarantined (503 runtime_quarantined, no evidence).
  It serves mutual TLS on HOST:PORT (default ${DEFAULT_LISTEN.host}:${DEFAULT_LISTEN.port}) with an SVID
  spiffe://<trust-domain>/agent/NAME (NAME defaults to the host name) from the built-in CA of
  the home, allows only --allow-peer (default spiffe://<trust-domain>/gateway/*), answers
  POST /attest {"nonce": base64url} with dev evidence (a software key in <home>/agent/NAME/:
  INSECURE, no hardware root), serves GET /healthz and forwards everything else to URL, the
  model server's OpenAI base URL (http://127.0.0.1:8000/v1), streams included.
  --evidence sev-snp or tdx asks the hardware through configfs-tsm (--tsm-root, default
  /sys/kernel/config/tsm/report; SEV-SNP uses the host's VCEK or --vcek, at --privlevel); the token
  kinds run --evidence-command, which gets the binding in ZTGATE_BINDING, ZTGATE_BINDING_HALVES and
  ZTGATE_REPORT_DATA and prints the attestation service's token (docs/RUNTIME-TRUST.md).`;

/** Options that take several values: `--allow-peer a b` is read as `--allow-peer a --allow-peer b`. */
const MULTI = new Set(['--certificate-chain', '--allow-peer', '--ignore-paths', '--evidence-command']);

const TOKEN_KINDS = ['azure-attestation', 'gcp-confidential-space', 'ear'] as const;

/** The evidence producer the options ask for (undefined: dev, made by the agent). */
async function producerArg(values: {
  evidence?: string | undefined;
  vcek?: string | undefined;
  privlevel?: string | undefined;
  'tsm-root'?: string | undefined;
  'evidence-command'?: string[] | undefined;
}): Promise<EvidenceProducer | undefined> {
  const kind = values.evidence ?? 'dev';
  const command = values['evidence-command'] ?? [];
  if (kind === 'dev') return undefined;
  if (kind === 'sev-snp' || kind === 'tdx') {
    const privlevel = values.privlevel === undefined ? undefined : Number(values.privlevel);
    if (privlevel !== undefined && !(Number.isInteger(privlevel) && privlevel >= 0 && privlevel <= 3))
      throw new UsageError('--privlevel must be 0 to 3');
    return configfsTsmProducer({
      kind,
      ...(values['tsm-root'] ? { root: values['tsm-root'] } : {}),
      ...(values.vcek ? { vcek: await readFile(values.vcek) } : {}),
      ...(privlevel !== undefined ? { privlevel } : {}),
    });
  }
  if ((TOKEN_KINDS as readonly string[]).includes(kind)) {
    const [program, ...rest] = command;
    if (!program) throw new UsageError(`--evidence ${kind} needs --evidence-command PROGRAM [ARG…]`);
    return commandProducer({ kind: kind as (typeof TOKEN_KINDS)[number], command: [program, ...rest] });
  }
  throw new UsageError(`--evidence must be dev, sev-snp, tdx, ${TOKEN_KINDS.join(', ')}`);
}

function listenArg(value: string | undefined): { host: string; port: number } {
  if (value === undefined) return DEFAULT_LISTEN;
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  const port = portArg(match?.[3], '--listen');
  if (!host || port === undefined) throw new UsageError('--listen must be HOST:PORT (IPv6: [ADDR]:PORT)');
  return { host, port };
}

function defaultName(): string {
  const name = hostname()
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^\.+$/, '');
  return name === '' ? 'agent' : name;
}

/** `ztgate agent`: runs until SIGINT/SIGTERM. Returns the exit code. */
export async function agentCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(expandMultiValues(args, MULTI), {
    'model-dir': { type: 'string' },
    signature: { type: 'string' },
    'public-key': { type: 'string' },
    'certificate-chain': { type: 'string', multiple: true },
    'ignore-paths': { type: 'string', multiple: true },
    upstream: { type: 'string' },
    listen: { type: 'string' },
    home: { type: 'string' },
    'spiffe-name': { type: 'string' },
    remeasure: { type: 'string' },
    'allow-peer': { type: 'string', multiple: true },
    evidence: { type: 'string' },
    vcek: { type: 'string' },
    privlevel: { type: 'string' },
    'tsm-root': { type: 'string' },
    'evidence-command': { type: 'string', multiple: true },
  });
  if (positionals.length > 0) throw new UsageError('agent takes options only');
  const modelDir = values['model-dir'];
  if (!modelDir) throw new UsageError('agent needs --model-dir DIR');
  if (!values.signature) throw new UsageError('agent needs --signature FILE');
  if (!values.upstream) throw new UsageError('agent needs --upstream URL');
  const chainFiles = values['certificate-chain'] ?? [];
  const publicKeyFile = values['public-key'];
  if ((publicKeyFile === undefined) === (chainFiles.length === 0)) {
    throw new UsageError('agent needs exactly one of --public-key PEM or --certificate-chain PEM…');
  }
  try {
    const url = new URL(values.upstream);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
  } catch {
    throw new UsageError('--upstream must be an http(s) URL such as http://127.0.0.1:8000/v1');
  }
  const listen = listenArg(values.listen);
  const remeasureMs =
    values.remeasure === undefined ? DEFAULT_REMEASURE_MS : parseDuration(values.remeasure, '--remeasure');
  const name = values['spiffe-name'] ?? defaultName();
  const ignorePaths = (values['ignore-paths'] ?? []).map((p) => p.replace(/^\.\//, ''));

  let producer: EvidenceProducer | undefined;
  try {
    producer = await producerArg(values);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    process.stderr.write(`ztgate agent: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }

  let trust: ModelTrust;
  const configFiles: Record<string, string> = {};
  try {
    if (publicKeyFile !== undefined) {
      trust = { publicKey: await readFile(publicKeyFile, 'utf8') };
      configFiles.publicKey = resolve(publicKeyFile);
    } else {
      trust = { certificateChain: await Promise.all(chainFiles.map((f) => readFile(f, 'utf8'))) };
      chainFiles.forEach((f, i) => (configFiles[`certificateChain.${i}`] = resolve(f)));
    }
  } catch (err) {
    process.stderr.write(`ztgate agent: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }

  let context: KeyContext;
  try {
    context = await openKeyContext(values.home ?? defaultHome());
  } catch (err) {
    return reportKeyError('agent', err);
  }
  const logger = createLogger(context.config.logging.level);
  let mesh: AgentMesh | undefined;
  let agent;
  try {
    mesh = await openAgentMesh({ home: context.home, keys: context.service.keys, name, logger });
    agent = await startAgent({
      modelDir,
      signature: values.signature,
      trust,
      configFiles,
      ...(ignorePaths.length > 0 ? { ignorePaths } : {}),
      upstream: values.upstream,
      listen,
      mesh,
      ...(values['allow-peer'] ? { allowPeers: values['allow-peer'] } : {}),
      remeasureMs,
      stateDir: join(context.home, 'agent', name),
      ...(producer ? { producer } : {}),
      logger,
    });
  } catch (err) {
    mesh?.close();
    await context.close().catch(() => undefined);
    logger.flush();
    return reportKeyError('agent', err);
  }
  // The handlers are in place before the listening line goes out: a supervisor that signals as
  // soon as it reads that line gets a clean shutdown, not the default kill.
  const stopped = new Promise<void>((resolveStop) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'agent: shutting down');
      resolveStop();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  const state = agent.state();
  process.stdout.write(
    `ztgate agent listening on ${agent.url} as ${agent.spiffeId}` +
      ` (${state?.status === 'healthy' ? 'healthy' : `QUARANTINED: ${state?.reason.code ?? 'not measured'}`};` +
      ` evidence ${agent.producer.kind}${agent.producer.insecure ? ', INSECURE: no hardware root' : ''})\n`,
  );
  await stopped;
  await agent.close();
  mesh.close();
  await context.close();
  logger.flush();
  return 0;
}
