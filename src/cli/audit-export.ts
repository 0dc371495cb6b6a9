import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { controlAuditEntry } from '../gateway/control-audit.js';
import {
  exportEntries,
  exportHeader,
  exportRange,
  resolveExportCheckpoint,
  toExportRecord,
  type ExportCheckpoint,
} from '../ledger/export-log.js';
import { createOtlpLogsSink } from '../ledger/export/otlp.js';
import { createSplunkHecSink } from '../ledger/export/splunk-hec.js';
import { createSyslogSink } from '../ledger/export/syslog.js';
import { isExportError, type ExportRecord, type ExportSink } from '../ledger/export/types.js';
import { parse, UsageError } from './args.js';
import { withStoreContext, type StoreContext } from './key-context.js';

export const AUDIT_EXPORT_USAGE = `ztgate audit export [--from N] [--to N] [--checkpoint SIZE] [--covered-only] [--output FILE|-]
    [--sink syslog|splunk-hec|otlp --url URL [--token-file FILE] [--ca FILE] [--cert FILE --key FILE]
    [--allow-plaintext]] [--home DIR]
  Writes the ledger entries with index in [--from, --to) (default: all) as JSON Lines: first a
  header with the log's origin and the signed checkpoint (default the latest; --checkpoint picks a
  stored one by size), then one line per entry {index, leafHash, entry, storedAt, covered, proof}
  with its inclusion proof against that checkpoint. Entries appended after the checkpoint have
  "covered": false and "proof": null; --covered-only leaves them out. Output goes to --output FILE
  (written whole or not at all) or standard output; with --sink, only where --output says.
  --sink streams the records to a SIEM: syslog (RFC 5424 to tcp://HOST:PORT or tls://HOST:PORT),
  splunk-hec (HEC base URL, e.g. https://splunk:8088) or otlp (OTLP/HTTP logs JSON base URL, e.g.
  https://collector:4318). The HEC token (otlp: a bearer token, optional) is read from --token-file
  or $ZTGATE_EXPORT_TOKEN, never from the command line. Exits 1 if any record was not delivered.`;

/** Where a token for --sink comes from when no --token-file is given. */
export const EXPORT_TOKEN_ENV = 'ZTGATE_EXPORT_TOKEN';

const SINKS = ['syslog', 'splunk-hec', 'otlp'] as const;
type SinkKind = (typeof SINKS)[number];
const DECIMAL = /^(?:0|[1-9][0-9]{0,14})$/;
/** Records per sink write: HTTP sinks split further; 100 of syslog's 64 KiB maximum fit its buffer. */
const SINK_BATCH = 100;
const SYSLOG_BUFFER_BYTES = 16 * 1024 * 1024;

interface SinkPlan {
  readonly kind: SinkKind;
  /** The destination without path or credentials, for messages. */
  readonly shown: string;
  readonly sink: ExportSink;
}

function integerOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!DECIMAL.test(value)) throw new UsageError(`${name} must be a non-negative integer`);
  return Number(value);
}

async function readOptionFile(path: string | undefined, name: string): Promise<Buffer | undefined> {
  if (path === undefined) return undefined;
  try {
    return await readFile(path);
  } catch {
    throw new UsageError(`cannot read ${name} ${path}`);
  }
}

async function sinkToken(tokenFile: string | undefined): Promise<string | undefined> {
  const fromFile = await readOptionFile(tokenFile, '--token-file');
  const token = fromFile ? fromFile.toString('utf8') : process.env[EXPORT_TOKEN_ENV];
  const trimmed = token?.trim();
  return trimmed ? trimmed : undefined;
}

interface SinkArgs {
  readonly sink?: string;
  readonly url?: string;
  readonly 'token-file'?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly 'allow-plaintext'?: boolean;
}

/** Builds the sink from the options; ExportError `invalid_options` becomes a usage error. */
async function planSink(values: SinkArgs): Promise<SinkPlan | undefined> {
  const kind = values.sink;
  if (kind === undefined) {
    for (const name of ['url', 'token-file', 'ca', 'cert', 'key', 'allow-plaintext'] as const) {
      if (values[name] !== undefined) throw new UsageError(`--${name} needs --sink`);
    }
    return undefined;
  }
  if (!(SINKS as readonly string[]).includes(kind))
    throw new UsageError(`--sink must be one of ${SINKS.join(', ')}`);
  if (values.url === undefined) throw new UsageError('--sink needs --url');
  if ((values.cert === undefined) !== (values.key === undefined))
    throw new UsageError('--cert and --key go together');
  let url: URL;
  try {
    url = new URL(values.url);
  } catch {
    throw new UsageError('--url is not a URL');
  }
  const tls = {
    ...optional('ca', await readOptionFile(values.ca, '--ca')),
    ...optional('cert', await readOptionFile(values.cert, '--cert')),
    ...optional('key', await readOptionFile(values.key, '--key')),
  };
  const allowPlaintext = values['allow-plaintext'] === true;
  const token = await sinkToken(values['token-file']);
  const shown = `${url.protocol}//${url.host}`;
  try {
    switch (kind as SinkKind) {
      case 'syslog':
        return { kind: 'syslog', shown, sink: syslogSink(url, tls, allowPlaintext) };
      case 'splunk-hec':
        if (token === undefined) {
          throw new UsageError(`splunk-hec needs its token in --token-file or $${EXPORT_TOKEN_ENV}`);
        }
        return {
          kind: 'splunk-hec',
          shown,
          sink: createSplunkHecSink({ url, token, allowPlaintext, ...tls }),
        };
      case 'otlp':
        return {
          kind: 'otlp',
          shown,
          sink: createOtlpLogsSink({
            url,
            allowPlaintext,
            ...tls,
            ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }),
          }),
        };
    }
  } catch (err) {
    if (isExportError(err, 'invalid_options')) throw new UsageError(err.message);
    throw err;
  }
}

function optional<K extends string>(name: K, value: Buffer | undefined): Partial<Record<K, Buffer>> {
  return value === undefined ? {} : ({ [name]: value } as Record<K, Buffer>);
}

function syslogSink(
  url: URL,
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer },
  allowPlaintext: boolean,
): ExportSink {
  const transport = url.protocol === 'tls:' ? 'tls' : url.protocol === 'tcp:' ? 'tcp' : undefined;
  if (!transport) throw new UsageError('--sink syslog needs --url tcp://HOST:PORT or tls://HOST:PORT');
  if (url.pathname.replace(/^\/+/, '') || url.search || url.username || url.password) {
    throw new UsageError('--url for syslog is tcp://HOST:PORT or tls://HOST:PORT, nothing more');
  }
  if (transport === 'tcp' && Object.keys(tls).length > 0)
    throw new UsageError('--ca, --cert and --key need tls://');
  return createSyslogSink({
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? (transport === 'tls' ? 6514 : 601) : Number(url.port),
    transport,
    ...(transport === 'tls' ? { tls } : {}),
    allowPlaintext,
    maxBufferedBytes: SYSLOG_BUFFER_BYTES,
  });
}

/** Output to a file goes to a temporary name first and replaces FILE only once the export is whole. */
interface Output {
  readonly stream: Writable;
  readonly shown: string;
  commit(): Promise<void>;
  abandon(): Promise<void>;
}

function openOutput(target: string): Output {
  if (target === '-') {
    return {
      stream: process.stdout,
      shown: 'standard output',
      commit: async () => undefined,
      abandon: async () => undefined,
    };
  }
  const temporary = `${target}.${process.pid}.partial`;
  const stream = createWriteStream(temporary, { flags: 'wx', mode: 0o600 });
  stream.on('error', () => undefined); // surfaced by the awaited writes
  const closed = async (): Promise<void> => {
    if (stream.closed) return;
    stream.end();
    await once(stream, 'close');
  };
  return {
    stream,
    shown: target,
    commit: async () => {
      await closed();
      if (stream.errored) throw stream.errored;
      await rename(temporary, target);
    },
    abandon: async () => {
      stream.destroy();
      await rm(temporary, { force: true });
    },
  };
}

async function writeText(stream: Writable, text: string): Promise<void> {
  if (stream.errored) throw stream.errored;
  if (!stream.write(text)) {
    await Promise.race([
      once(stream, 'drain'),
      once(stream, 'error').then(([err]) => Promise.reject(err as Error)),
    ]);
  }
}

interface ExportCounts {
  exported: number;
  proven: number;
  delivered: number;
  /** The first index not delivered, when delivery failed. */
  failedAt?: number;
}

/** `ztgate audit export`. */
export async function auditExport(args: readonly string[]): Promise<number> {
  if (args.some((arg) => arg === '--token' || arg.startsWith('--token='))) {
    throw new UsageError(
      `--token is not accepted (a command line is visible to other users and kept in shell history): ` +
        `use --token-file FILE or $${EXPORT_TOKEN_ENV}`,
    );
  }
  const { values, positionals } = parse(args, {
    home: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    checkpoint: { type: 'string' },
    'covered-only': { type: 'boolean' },
    output: { type: 'string', short: 'o' },
    sink: { type: 'string' },
    url: { type: 'string' },
    'token-file': { type: 'string' },
    ca: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    'allow-plaintext': { type: 'boolean' },
  });
  if (positionals.length > 0) throw new UsageError('audit export takes no positional arguments');
  const from = integerOption(values.from, '--from');
  const to = integerOption(values.to, '--to');
  const checkpointSize = integerOption(values.checkpoint, '--checkpoint');
  if (from !== undefined && to !== undefined && to < from)
    throw new UsageError('--to must not be below --from');
  const plan = await planSink(values);
  const job: ExportJob = {
    from,
    to,
    checkpointSize,
    coveredOnly: values['covered-only'] === true,
    plan,
    outputTarget: values.output ?? (plan ? undefined : '-'),
  };
  try {
    return await withStoreContext(values.home, 'audit export', (context) => runExport(context, job));
  } finally {
    await plan?.sink.close().catch(() => undefined);
  }
}

interface ExportJob {
  readonly from: number | undefined;
  readonly to: number | undefined;
  readonly checkpointSize: number | undefined;
  readonly coveredOnly: boolean;
  readonly plan: SinkPlan | undefined;
  readonly outputTarget: string | undefined;
}

async function runExport(context: StoreContext, job: ExportJob): Promise<number> {
  const { from, to, checkpointSize, coveredOnly, plan, outputTarget } = job;
  const counts: ExportCounts = { exported: 0, proven: 0, delivered: 0 };
  const output = outputTarget === undefined ? undefined : openOutput(outputTarget);
  let checkpoint: ExportCheckpoint | undefined;
  let failure: string | undefined;
  try {
    checkpoint = await resolveExportCheckpoint(context.store.audit, checkpointSize);
    const range = await exportRange(context.store.audit, checkpoint, {
      coveredOnly,
      ...(from === undefined ? {} : { from }),
      ...(to === undefined ? {} : { to }),
    });
    const options = { from: range.from, to: range.to, coveredOnly, checkpoint };
    if (output)
      await writeText(
        output.stream,
        `${JSON.stringify(await exportHeader(context.store.audit, checkpoint, options))}\n`,
      );
    await pump(context, checkpoint, options, output?.stream, plan?.sink, counts);
    await output?.commit();
    report(counts, checkpoint, output, plan);
    return 0;
  } catch (err) {
    failure = String((err as { code?: unknown }).code ?? 'export_failed');
    await output?.abandon();
    if (counts.failedAt !== undefined && plan) {
      process.stderr.write(
        `ztgate audit export: ${failure}: ${err instanceof Error ? err.message : String(err)}\n` +
          `  delivered ${counts.delivered} record(s) to ${plan.kind} ${plan.shown}; ` +
          `the first one not delivered is index ${counts.failedAt} (resume with --from ${counts.failedAt})\n`,
      );
      return 1;
    }
    throw err;
  } finally {
    await recordExport(context, plan?.kind, checkpoint, counts, failure);
  }
}

async function pump(
  context: StoreContext,
  checkpoint: ExportCheckpoint,
  options: { from: number; to: number; coveredOnly: boolean; checkpoint: ExportCheckpoint },
  output: Writable | undefined,
  sink: ExportSink | undefined,
  counts: ExportCounts,
): Promise<void> {
  let lines: string[] = [];
  let records: ExportRecord[] = [];
  const flush = async (): Promise<void> => {
    if (output && lines.length > 0) await writeText(output, lines.join(''));
    lines = [];
    if (sink && records.length > 0) {
      const batch = records;
      records = [];
      try {
        await sink.write(batch);
      } catch (err) {
        counts.failedAt = batch[0]!.index;
        throw err;
      }
      counts.delivered += batch.length;
    }
  };
  for await (const record of exportEntries(context.store.audit, options)) {
    counts.exported += 1;
    if (record.proof) counts.proven += 1;
    if (output) lines.push(`${JSON.stringify(record)}\n`);
    if (sink) records.push(toExportRecord(record, checkpoint));
    if (counts.exported % SINK_BATCH === 0) await flush();
  }
  await flush();
}

function report(
  counts: ExportCounts,
  checkpoint: ExportCheckpoint,
  output: Output | undefined,
  plan: SinkPlan | undefined,
): void {
  const pending = counts.exported - counts.proven;
  const lines = [
    `exported ${counts.exported} entr${counts.exported === 1 ? 'y' : 'ies'}` +
      `${output ? ` to ${output.shown}` : ''}: ${counts.proven} proven against checkpoint ${checkpoint.size} ` +
      `of ${checkpoint.origin}${pending > 0 ? `, ${pending} appended after it (no proof yet)` : ''}`,
  ];
  if (plan) lines.push(`delivered ${counts.delivered} record(s) to ${plan.kind} ${plan.shown}`);
  process.stderr.write(`${lines.join('\n')}\n`);
}

/** Reading the whole audit log is itself recorded; best effort, since a read-only store may refuse. */
async function recordExport(
  context: StoreContext,
  sink: string | undefined,
  checkpoint: ExportCheckpoint | undefined,
  counts: ExportCounts,
  errorCode: string | undefined,
): Promise<void> {
  const details = [
    `entries:${counts.exported}`,
    ...(checkpoint ? [`checkpoint:${checkpoint.size}`] : []),
    ...(sink ? [`sink:${sink}`, `delivered:${counts.delivered}`] : []),
  ];
  try {
    await context.store.audit.append(
      controlAuditEntry({
        action: 'audit.export',
        target: `ledger:${checkpoint?.origin ?? context.config.ledger.origin}`,
        actor: context.actor,
        authMethod: 'cli',
        outcome: errorCode ? 'failed' : 'ok',
        details,
        ...(errorCode ? { errorCode } : {}),
      }),
    );
  } catch {
    process.stderr.write('ztgate audit export: warning: the export could not be recorded in the ledger\n');
  }
}
