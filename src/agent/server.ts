import { createHash, X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { MeshServerTls, VerifiedPeer } from '../mesh/index.js';
import type { EvidenceProducer } from './evidence.js';
import type { Forwarder } from './forward.js';
import type { AgentState } from './monitor.js';
import type { TokenBuckets } from './rate-limit.js';

/** Bytes of a challenge nonce: at least 16 (the verifier sends 32), at most 64. */
export const MIN_NONCE_BYTES = 16;
export const MAX_NONCE_BYTES = 64;
/** Largest /attest body read. */
const MAX_ATTEST_BODY = 4096;

export type AgentErrorCode =
  | 'runtime_quarantined'
  | 'nonce_invalid'
  | 'invalid_json'
  | 'body_too_large'
  | 'rate_limited'
  | 'method_not_allowed'
  | 'attestation_failed'
  | 'internal_error';

const ERRORS: Readonly<Record<AgentErrorCode, { status: number; message: string; type: string }>> = {
  runtime_quarantined: {
    status: 503,
    message: 'The runtime is quarantined: its measurements do not match what was signed.',
    type: 'api_error',
  },
  nonce_invalid: {
    status: 400,
    message: `nonce must be base64url of ${MIN_NONCE_BYTES} to ${MAX_NONCE_BYTES} bytes.`,
    type: 'invalid_request_error',
  },
  invalid_json: { status: 400, message: 'The body must be a JSON object.', type: 'invalid_request_error' },
  body_too_large: { status: 413, message: 'The body is too large.', type: 'invalid_request_error' },
  rate_limited: { status: 429, message: 'Too many attestation challenges.', type: 'rate_limit_error' },
  method_not_allowed: { status: 405, message: 'Method not allowed.', type: 'invalid_request_error' },
  attestation_failed: { status: 500, message: 'Evidence could not be produced.', type: 'api_error' },
  internal_error: { status: 500, message: 'Internal error.', type: 'api_error' },
};

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function sendError(
  res: ServerResponse,
  code: AgentErrorCode,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): void {
  const { status, message, type } = ERRORS[code];
  sendJson(res, status, { error: { message, type, code, param: null, ...extra } }, headers);
}

function quarantineDetail(state: AgentState | undefined): Record<string, unknown> {
  if (!state || state.status !== 'quarantined') return { reason: 'not_measured' };
  return { reason: state.reason.code, ...(state.reason.files ? { files: state.reason.files } : {}) };
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Decodes a base64url nonce of the allowed size; undefined when it is not one. */
export function parseNonce(value: unknown): Buffer | undefined {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]+$/.test(value)) return undefined;
  const bytes = Buffer.from(value, 'base64url');
  // Round-trip: refuses stray bits in the last character (one nonce, one encoding).
  if (bytes.toString('base64url') !== value) return undefined;
  if (bytes.length < MIN_NONCE_BYTES || bytes.length > MAX_NONCE_BYTES) return undefined;
  return bytes;
}

/** SHA-256 of the DER SubjectPublicKeyInfo of the certificate this connection serves. */
export function servedKeyDigest(socket: TLSSocket): Buffer {
  const cert = socket.getCertificate();
  if (!cert || !('raw' in cert) || !cert.raw) throw new Error('the connection has no server certificate');
  const spki = new X509Certificate(cert.raw).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest();
}

export interface AgentHandlerOptions {
  readonly tls: MeshServerTls;
  readonly state: () => AgentState | undefined;
  readonly producer: EvidenceProducer;
  readonly forwarder: Forwarder;
  readonly buckets: TokenBuckets;
  readonly spiffeId: string;
  readonly logger: Logger;
  /** In-flight forwards, aborted when the agent is quarantined. */
  readonly inflight: Set<AbortController>;
}

/** The agent's request handler: GET /healthz, POST /attest, everything else forwarded. */
export function agentHandler(
  options: AgentHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { tls, state, producer, logger } = options;

  async function attest(req: IncomingMessage, res: ServerResponse, peer: VerifiedPeer): Promise<void> {
    if (req.method !== 'POST') return sendError(res, 'method_not_allowed', {}, { allow: 'POST' });
    const wait = options.buckets.take(peer.spiffeId.id);
    if (wait > 0) return sendError(res, 'rate_limited', {}, { 'retry-after': String(wait) });
    const body = await readBody(req, MAX_ATTEST_BODY);
    if (!body) return sendError(res, 'body_too_large');
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return sendError(res, 'invalid_json');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return sendError(res, 'invalid_json');
    const nonce = parseNonce((parsed as { nonce?: unknown }).nonce);
    if (!nonce) return sendError(res, 'nonce_invalid', { param: 'nonce' });
    // INVARIANT: evidence is produced only over measurements of a healthy state, and handed out
    // only if the state is still that one afterwards: never evidence for a bad state.
    const before = state();
    if (before?.status !== 'healthy') return sendError(res, 'runtime_quarantined', quarantineDetail(before));
    let evidence: string;
    let tlsKeyDigest: Buffer;
    try {
      tlsKeyDigest = servedKeyDigest(req.socket as TLSSocket);
      evidence = await producer.produce(nonce, tlsKeyDigest, before.measurements);
    } catch (err) {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, 'agent: evidence not produced');
      return sendError(res, 'attestation_failed');
    }
    const after = state();
    if (after !== before) {
      if (after?.status !== 'healthy') return sendError(res, 'runtime_quarantined', quarantineDetail(after));
      // Re-measured meanwhile: fine only if nothing changed.
      const same =
        after.measurements.weights === before.measurements.weights &&
        after.measurements.agent === before.measurements.agent &&
        after.measurements.config === before.measurements.config;
      if (!same) return sendError(res, 'runtime_quarantined', { reason: 'measurement_changed' });
    }
    logger.info(
      { peer: peer.spiffeId.id, kind: producer.kind, ...(producer.insecure ? { insecure: true } : {}) },
      producer.insecure ? 'agent: attested (dev evidence: INSECURE, no hardware root)' : 'agent: attested',
    );
    sendJson(res, 200, {
      kind: producer.kind,
      ...(producer.insecure ? { insecure: true } : {}),
      evidence,
      spiffeId: options.spiffeId,
      tlsKeyDigest: tlsKeyDigest.toString('base64url'),
      measurements: before.measurements,
    });
  }

  function health(res: ServerResponse): void {
    const current = state();
    if (current?.status === 'healthy') {
      return sendJson(res, 200, {
        status: 'healthy',
        spiffeId: options.spiffeId,
        evidence: producer.kind,
        ...(producer.insecure ? { insecure: true } : {}),
        ...(producer.publicKeyPem
          ? { evidenceKey: { keyId: producer.keyId, publicKey: producer.publicKeyPem } }
          : {}),
        measurements: current.measurements,
        model: current.model,
        measuredAt: new Date(current.measuredAt).toISOString(),
      });
    }
    sendJson(res, 503, {
      status: 'quarantined',
      spiffeId: options.spiffeId,
      ...(current
        ? { reason: current.reason, since: new Date(current.since).toISOString() }
        : { reason: { code: 'not_measured' } }),
    });
  }

  async function forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const current = state();
    if (current?.status !== 'healthy') {
      req.resume();
      return sendError(res, 'runtime_quarantined', quarantineDetail(current));
    }
    const controller = new AbortController();
    options.inflight.add(controller);
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    try {
      await options.forwarder.forward(req, res, controller.signal);
    } finally {
      options.inflight.delete(controller);
    }
  }

  return (req, res) => {
    let peer: VerifiedPeer | undefined;
    try {
      // Re-checked on every request of a kept-alive connection (revocation, expiry).
      peer = tls.peerOf(req.socket);
    } catch {
      return; // the mesh destroyed the connection and logged why
    }
    if (!peer) return void req.socket.destroy(); // certificates are required: cannot happen
    const path = (req.url ?? '/').split('?')[0];
    const work =
      path === '/attest'
        ? attest(req, res, peer)
        : path === '/healthz'
          ? Promise.resolve(health(res))
          : forward(req, res);
    work.catch((err: unknown) => {
      logger.error({ err: err instanceof Error ? err.message : String(err), path }, 'agent: request failed');
      if (!res.headersSent) sendError(res, 'internal_error');
      else res.destroy();
    });
  };
}
