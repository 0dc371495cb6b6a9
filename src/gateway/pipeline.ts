import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import {
  OutputBlockedError,
  PolicyError,
  ZtError,
  asStageError,
  type AuditEntry,
  type ChatCompletionChunk,
  type ChatRequest,
  type ModelResponse,
  type RequestContext,
  type RetainRequest,
  type RoutePlan,
  type Finding,
  type Stages,
  type StreamScanner,
  type Usage,
} from '../core/index.js';
import { buildAuditEntry } from './audit-entry.js';
import { retainRequestOf, retains } from './retain.js';
import type { GatewayMetrics } from './metrics.js';
import { runStage, type StageTimeouts } from './stage-runner.js';

/** Where a streamed answer goes (the HTTP layer implements it). */
export interface StreamSink {
  /** Sends the response head. Called only after the release record is committed, with the first chunk. */
  open(): void;
  /** Writes one chunk; resolves when the client can take more (back-pressure). */
  write(chunk: ChatCompletionChunk): Promise<void>;
  /** Ends the stream normally (`data: [DONE]`). */
  end(): void;
  /** Ends the stream with an error event (the head is already sent). */
  fail(err: ZtError): void;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
}

export interface PipelineOptions {
  readonly stages: Stages;
  readonly timeouts: StageTimeouts;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /** Name the denying policies in the client's error (`policy.showDenyingPolicy`); off by default. */
  readonly showDenyingPolicy?: boolean;
  /** Obligation kinds the stages apply; an allow carrying another kind is refused (fail closed). */
  readonly enforcedObligations: ReadonlySet<string>;
  /** After authentication: refuses a quarantined principal, device, session or workspace (throws). */
  readonly admit?: (ctx: RequestContext) => void;
  /** The risk score policy sees (watch service). */
  readonly riskOf?: (ctx: Readonly<RequestContext>) => number;
}

export interface Pipeline {
  /** Authenticates only (for listing models). */
  authenticate(ctx: RequestContext): Promise<void>;
  /** The whole pipeline for a non-streamed request; returns the JSON text to release. */
  complete(ctx: RequestContext, clientSignal: AbortSignal): Promise<string>;
  /** The whole pipeline for a streamed chat request. Refusals before the head throw. */
  stream(ctx: RequestContext, sink: StreamSink): Promise<void>;
  /** Records a refused request (best effort; a refusal goes out even if this fails). */
  refused(ctx: RequestContext, err: ZtError): void;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function isAbort(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (err instanceof Error && err.name === 'AbortError');
}

/**
 * The one place that orders the stages:
 * ingress → authenticate → inspect → decide → transform → route → (upstream) → scan output →
 * record → release, with watch as an asynchronous side channel.
 * Ingress (parsing and limits) happens in the HTTP layer before a context exists.
 */
export function createPipeline(options: PipelineOptions): Pipeline {
  const { stages, timeouts, metrics, logger } = options;

  const record = (entry: AuditEntry, retain?: RetainRequest): Promise<unknown> =>
    runStage(metrics, 'record', timeouts.record, () => stages.record(entry, retain));

  const watch = (kind: 'request.completed' | 'request.refused', entry: AuditEntry): void => {
    try {
      stages.watch({ kind, entry });
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message } }, 'watch sink threw; event dropped');
    }
  };

  async function authenticate(ctx: RequestContext): Promise<void> {
    const who = await runStage(metrics, 'authenticate', timeouts.authenticate, () =>
      stages.authenticate({ requestId: ctx.id, credentials: ctx.credentials }),
    );
    ctx.principal = who.principal;
    if (who.device) ctx.device = who.device;
  }

  /** authenticate → inspect → decide → transform → route. */
  async function prepare(ctx: RequestContext): Promise<RoutePlan> {
    await authenticate(ctx);
    options.admit?.(ctx);
    if (options.riskOf) ctx.risk = options.riskOf(ctx);
    const inspection = await runStage(metrics, 'inspect', timeouts.inspect, () => stages.inspect(ctx));
    ctx.findings = inspection.findings;
    if (inspection.dataClass !== undefined) ctx.dataClass = inspection.dataClass;
    const decision = await runStage(metrics, 'decide', timeouts.decide, () => stages.decide(ctx));
    ctx.decision = decision;
    // INVARIANT: anything but an explicit allow is a deny.
    if (decision.effect !== 'allow') {
      metrics.stageOutcomes.inc({ stage: 'decide', outcome: 'policy_denied' });
      const ids = decision.determiningPolicies.join(',');
      throw new PolicyError('policy_denied', {
        logDetail: [ids, ...decision.errors].filter(Boolean).join(' '),
        ...(options.showDenyingPolicy && ids ? { publicDetail: `Denied by: ${ids}.` } : {}),
      });
    }
    const unenforced = decision.obligations.filter((o) => !options.enforcedObligations.has(o.kind));
    if (unenforced.length) {
      metrics.stageOutcomes.inc({ stage: 'decide', outcome: 'obligation_unenforceable' });
      throw new PolicyError('obligation_unenforceable', {
        logDetail: unenforced.map((o) => `${o.kind}:${o.value}`).join(' '),
      });
    }
    const transformed = await runStage(metrics, 'transform', timeouts.transform, () => stages.transform(ctx));
    ctx.upstreamRequest = transformed.request;
    ctx.transformations = transformed.transformations;
    if (transformed.restorer) ctx.restorer = transformed.restorer;
    if (transformed.canary) ctx.canary = transformed.canary;
    ctx.route = await runStage(metrics, 'route', timeouts.route, () => stages.route(ctx));
    return ctx.route;
  }

  async function callUpstream<T>(plan: RoutePlan, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await call();
      metrics.upstreamDuration.observe(
        { upstream: plan.upstreamId, outcome: 'ok' },
        (performance.now() - started) / 1000,
      );
      return result;
    } catch (err) {
      const zt = asStageError('upstream', err);
      metrics.upstreamDuration.observe(
        { upstream: plan.upstreamId, outcome: zt.code },
        (performance.now() - started) / 1000,
      );
      throw err instanceof Error && err.name === 'AbortError' ? err : zt;
    }
  }

  async function complete(ctx: RequestContext, clientSignal: AbortSignal): Promise<string> {
    const plan = await prepare(ctx);
    const request = ctx.upstreamRequest ?? ctx.request;
    const callOptions = { signal: clientSignal, requestId: ctx.id };
    let response: ModelResponse;
    if (request.route === 'chat.completions') {
      // The connector sends it as a non-streamed call (stream: false, no stream_options).
      const body: ChatRequest = { ...request.body, model: plan.upstreamModel };
      const answer = await callUpstream(plan, () => plan.connector.chat(body, callOptions));
      response = { route: 'chat.completions', body: { ...answer, model: plan.modelId } };
    } else {
      const body = { ...request.body, model: plan.upstreamModel };
      const answer = await callUpstream(plan, () => plan.connector.embeddings(body, callOptions));
      response = { route: 'embeddings', body: { ...answer, model: plan.modelId } };
    }
    const scanned = await runStage(metrics, 'scan_output', timeouts.scan_output, () =>
      stages.scanOutput.scan(ctx, response),
    );
    if (scanned.transformations.length > 0)
      ctx.transformations = [...ctx.transformations, ...scanned.transformations];
    const payload = JSON.stringify(scanned.response.body);
    const entry = buildAuditEntry(ctx, {
      phase: 'release',
      status: 200,
      usage: scanned.response.body.usage ?? null,
      answerSha256: sha256(payload),
      findings: scanned.findings,
    });
    // INVARIANT: nothing is released before its audit record is committed.
    await record(entry, retainRequestOf(ctx, { prompt: true, answer: payload }));
    watch('request.completed', entry);
    return payload;
  }

  async function stream(ctx: RequestContext, sink: StreamSink): Promise<void> {
    const plan = await prepare(ctx);
    const request = ctx.upstreamRequest ?? ctx.request;
    if (request.route !== 'chat.completions') throw new ZtError('invalid_request', 'ingress');
    const clientWantsUsage = request.body.stream_options?.include_usage === true;
    // Usage is always asked of the upstream for the audit record, and stripped if the client did not ask.
    const body: ChatRequest = {
      ...request.body,
      model: plan.upstreamModel,
      stream: true,
      stream_options: { ...(request.body.stream_options ?? {}), include_usage: true },
    };
    const upstream = await callUpstream(plan, () =>
      plan.connector.chatStream(body, { signal: sink.signal, requestId: ctx.id }),
    );
    let scanner: StreamScanner | undefined;
    try {
      scanner = stages.scanOutput.openStream(ctx);
      // INVARIANT: the first byte goes out only after the release record is committed (with the
      // prompt, when it is to be retained; the answer is retained with the closing record).
      await record(
        buildAuditEntry(ctx, { phase: 'release', status: 200 }),
        retainRequestOf(ctx, { prompt: true, answer: null }),
      );
    } catch (err) {
      upstream.cancel();
      throw asStageError(scanner ? 'record' : 'scan_output', err);
    }
    const openScanner: StreamScanner = scanner;

    // The head goes out with the first released chunk, so a scan failure on the first chunk is
    // still an ordinary error response.
    let opened = false;
    const answerHash = createHash('sha256');
    // The released chunks as hashed, kept only when a retain obligation asks for the answer.
    const answerText: string[] | undefined = retains(ctx) ? [] : undefined;
    let usage: Usage | null = null;
    const outcome: { status: number; errorCode?: string } = { status: 200 };
    const release = async (chunks: readonly ChatCompletionChunk[]): Promise<void> => {
      for (const chunk of chunks) {
        if (!opened) {
          sink.open();
          opened = true;
        }
        const out = { ...chunk, model: plan.modelId };
        const text = JSON.stringify(out);
        answerHash.update(text);
        answerText?.push(text);
        await sink.write(out);
      }
    };
    try {
      for await (const raw of upstream) {
        if (raw.usage) usage = raw.usage;
        let chunk: ChatCompletionChunk | undefined = raw;
        if (!clientWantsUsage) {
          if (raw.choices.length === 0) chunk = undefined;
          else if ('usage' in raw) {
            const { usage: _dropped, ...rest } = raw;
            chunk = rest as ChatCompletionChunk;
          }
        }
        if (!chunk) continue;
        const current = chunk;
        await release(
          await runStage(metrics, 'scan_output', timeouts.scan_output, () => openScanner.push(current)),
        );
      }
      await release(await runStage(metrics, 'scan_output', timeouts.scan_output, () => openScanner.end()));
      if (!opened) sink.open();
      sink.end();
    } catch (err) {
      upstream.cancel();
      // Nothing was released yet: refuse with an ordinary error response (recorded as refused).
      if (!opened && !isAbort(err, sink.signal)) throw err;
      if (isAbort(err, sink.signal)) {
        outcome.status = 499;
        outcome.errorCode = 'client_closed';
      } else {
        const zt = asStageError('upstream', err);
        outcome.status = zt.status;
        outcome.errorCode = zt.code;
        logger.warn({ requestId: ctx.id, code: zt.code, detail: zt.logDetail }, 'stream ended with an error');
        sink.fail(zt);
      }
    }
    recordCompletion(ctx, openScanner, outcome, usage, answerHash.digest('hex'), answerText?.join(''));
  }

  /** The record of how a stream ended (its release record was written before the first byte). */
  function recordCompletion(
    ctx: RequestContext,
    scanner: StreamScanner,
    outcome: { status: number; errorCode?: string },
    usage: Usage | null,
    answerSha256: string | null,
    answer: string | undefined,
  ): void {
    let findings: readonly Finding[] = [];
    try {
      findings = scanner.findings();
    } catch {
      // a broken scanner has already failed the stream; the record still goes in
    }
    recordAfterRelease(
      buildAuditEntry(ctx, { phase: 'complete', ...outcome, usage, answerSha256, findings }),
      answer === undefined ? undefined : retainRequestOf(ctx, { prompt: false, answer }),
    );
  }

  /** Records what happened after the answer (or refusal) went out: failures are counted and logged. */
  function recordAfterRelease(entry: AuditEntry, retain?: RetainRequest): void {
    record(entry, retain).then(
      () => watch(entry.phase === 'refused' ? 'request.refused' : 'request.completed', entry),
      (err: unknown) => {
        metrics.auditFailures.inc({ phase: entry.phase });
        logger.error(
          { requestId: entry.requestId, code: asStageError('record', err).code },
          `${entry.phase} record not written`,
        );
      },
    );
  }

  function refused(ctx: RequestContext, err: ZtError): void {
    // Unauthenticated noise is counted in metrics and logs, not written to the audit store.
    if (!ctx.principal) return;
    // What blocked an answer is a finding of the request (a canary leak is what watch acts on).
    const blocked =
      err instanceof OutputBlockedError
        ? err.blocked.map((type) => ({ detector: 'output', type, score: 1 }))
        : undefined;
    recordAfterRelease(
      buildAuditEntry(ctx, {
        phase: 'refused',
        status: err.status,
        errorCode: err.code,
        ...(blocked?.length ? { findings: blocked } : {}),
      }),
    );
  }

  return { authenticate, complete, stream, refused };
}
