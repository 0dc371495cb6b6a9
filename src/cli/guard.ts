import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { configSchema, ConfigError, homePaths, loadConfigFile, type ZtgateConfig } from '../config/index.js';
import type { Finding } from '../core/index.js';
import { BUILTIN_CLASS_RULES, classify } from '../guard/classify.js';
import { createDetectors, type Detectors } from '../guard/registry.js';
import type { DataClass, Detection } from '../guard/types.js';
import { parse, UsageError } from './args.js';

export const GUARD_USAGE = `ztgate guard scan [--jsonl FILE | --jsonl -] [--home DIR]
  Runs the data guard's detectors over text and writes one JSON line per record (docs/GUARD.md,
  "Scanning files"): {"id","pii":[{"type","start","end","score"}],"secrets":[{"rule","start",
  "end"}],"injection":{"score","flagged"},"class"}, offsets in Unicode code points. --jsonl reads
  records {"id","text"} one per line from FILE or stdin (-); without it, all of stdin is one
  record with id "stdin". A malformed line gives {"id":null,"error":"invalid_json","line":N}
  (a line over 16 MiB: "line_too_long") and the scan goes on. --home uses that home's guard config (custom patterns, dictionaries)
  and its policy.dataClass as the base class; without it, the defaults and base class public.
  Exit 0, or 2 when the input or the config cannot be read.`;

/** The JSON line written for one scanned record (the stable `guard scan` interface). */
export interface ScanLine {
  readonly id: unknown;
  readonly pii: readonly { type: string; start: number; end: number; score: number }[];
  readonly secrets: readonly { rule: string; start: number; end: number }[];
  readonly injection: { readonly score: number; readonly flagged: boolean } | null;
  readonly class: DataClass;
}

export interface Scanner {
  scan(id: unknown, text: string): ScanLine;
}

const SURROGATE_HIGH = /[\uD800-\uDBFF]/;

/** UTF-16 index → code-point index over `text` (the identity when it has no astral characters). */
function codePointIndex(text: string): (i: number) => number {
  if (!SURROGATE_HIGH.test(text)) return (i) => i;
  const map = new Uint32Array(text.length + 1);
  let cp = 0;
  for (let i = 0; i < text.length; i++) {
    map[i] = cp;
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point; a lone surrogate counts as one.
    const pair = c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    if (!pair) cp++;
  }
  map[text.length] = cp;
  return (i) => map[i] ?? cp;
}

const byStart = (a: Detection, b: Detection): number => a.start - b.start || a.end - b.end;

/** A scanner over the given detectors: what `ztgate guard scan` writes for each record. */
export function createScanner(detectors: Detectors, config: ZtgateConfig, base: DataClass): Scanner {
  const rules = [...BUILTIN_CLASS_RULES, ...config.guard.classification.rules];
  return {
    scan(id, text) {
      const found = detectors.scan(text).sort(byStart);
      const cp = codePointIndex(text);
      const verdict = detectors.injection?.score(text);
      const findings: Finding[] = found.map((d) => ({
        detector: d.recognizer,
        type: d.type,
        score: d.score,
      }));
      if (verdict?.flagged)
        findings.push({ detector: 'injection', type: 'PROMPT_INJECTION', score: verdict.score });
      return {
        id,
        pii: found
          .filter((d) => d.type !== 'SECRET')
          .map((d) => ({ type: d.type, start: cp(d.start), end: cp(d.end), score: d.score })),
        secrets: found
          .filter((d) => d.type === 'SECRET')
          .map((d) => ({ rule: d.rule ?? 'secret', start: cp(d.start), end: cp(d.end) })),
        injection: verdict ? { score: verdict.score, flagged: verdict.flagged } : null,
        class: classify(base, findings, rules, []),
      };
    },
  };
}

/** Writes a line, waiting for stdout to drain so memory stays bounded on a slow reader. */
async function emit(value: unknown): Promise<void> {
  if (!process.stdout.write(JSON.stringify(value) + '\n'))
    await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
}

/** The record a JSONL line holds, or an error code. */
function record(line: string): { id: unknown; text: string } | 'invalid_json' {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'invalid_json';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'invalid_json';
  const { id, text } = value as { id?: unknown; text?: unknown };
  if (typeof text !== 'string') return 'invalid_json';
  return { id: typeof id === 'string' || typeof id === 'number' ? id : null, text };
}

/** The longest record (a JSONL line, or all of stdin as plain text) read, in bytes. */
export const MAX_RECORD_BYTES = 16 * 2 ** 20;

// A raw NUL cannot occur in a valid JSON line, so a line ending with this was cut.
const TOO_LONG = '\u0000ztgate:line_too_long';
const TOO_LONG_BYTES = Buffer.from(TOO_LONG);
const NEWLINE = Buffer.from('\n');

/**
 * Passes lines of up to `max` bytes through and cuts longer ones to `max` bytes plus a marker,
 * dropping the rest, so that readline never buffers more than `max` bytes of one line.
 */
class LineCap extends Transform {
  #length = 0;
  #dropping = false;
  constructor(private readonly max: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const out: Buffer[] = [];
    for (let from = 0; from < chunk.length;) {
      const nl = chunk.indexOf(0x0a, from);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.#dropping) {
        const room = this.max - this.#length;
        if (end - from > room) {
          out.push(chunk.subarray(from, from + room), TOO_LONG_BYTES);
          this.#dropping = true;
        } else {
          out.push(chunk.subarray(from, end));
          this.#length += end - from;
        }
      }
      if (nl === -1) break;
      out.push(NEWLINE);
      this.#length = 0;
      this.#dropping = false;
      from = nl + 1;
    }
    done(null, Buffer.concat(out));
  }
}

async function scanJsonl(input: Readable, scanner: Scanner): Promise<void> {
  const capped = new LineCap(MAX_RECORD_BYTES);
  input.on('error', (err) => capped.destroy(err));
  const lines = createInterface({ input: input.pipe(capped), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === '') continue;
    const r = line.endsWith(TOO_LONG) ? 'line_too_long' : record(line);
    await emit(typeof r === 'string' ? { id: null, error: r, line: n } : scanner.scan(r.id, r.text));
  }
}

/** All of `input` as text, or undefined when it is longer than MAX_RECORD_BYTES. */
async function readAll(input: Readable): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of input) {
    bytes += (chunk as Buffer).length;
    if (bytes > MAX_RECORD_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function loadConfig(home: string | undefined): Promise<ZtgateConfig | undefined> {
  if (home === undefined) return configSchema.parse({});
  const file = homePaths(home).config;
  try {
    return await loadConfigFile(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`ztgate guard: ${file}: ${err.message}\n`);
    return undefined;
  }
}

/** `ztgate guard scan`. */
export async function guardCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, { jsonl: { type: 'string' }, home: { type: 'string' } });
  if (positionals.length !== 1 || positionals[0] !== 'scan')
    throw new UsageError('expected: guard scan [--jsonl FILE | -] [--home DIR]');
  const config = await loadConfig(values.home);
  if (!config) return 2;
  let detectors: Detectors;
  try {
    detectors = createDetectors(config.guard);
  } catch (err) {
    // A custom pattern that does not compile: the config is unusable, as at gateway start.
    process.stderr.write(`ztgate guard: guard config: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const base: DataClass = values.home === undefined ? 'public' : config.policy.dataClass;
  const scanner = createScanner(detectors, config, base);
  const file = values.jsonl;
  const input: Readable = file === undefined || file === '-' ? process.stdin : createReadStream(file);
  try {
    if (file === undefined) {
      const text = await readAll(input);
      if (text === undefined) {
        process.stderr.write(
          `ztgate guard: stdin is over ${MAX_RECORD_BYTES} bytes; split it and use --jsonl\n`,
        );
        return 2;
      }
      await emit(scanner.scan('stdin', text));
    } else await scanJsonl(input, scanner);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err;
    process.stderr.write(`ztgate guard: cannot read ${file ?? 'stdin'}: ${code}\n`);
    return 2;
  }
  return 0;
}
