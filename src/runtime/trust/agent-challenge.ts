// The gateway's side of an attestation challenge: POST {nonce} to the runtime agent's /attest over
// the same mutual TLS as the upstream's traffic (the mesh connector: the gateway's SVID, the mesh
// trust bundle, the upstream's SPIFFE allow-list, revocation), and report the key of the
// certificate the agent actually presented on that connection, which the evidence must bind.
import { createHash, type X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { Client, type buildConnector } from 'undici';
import type { ChallengeAnswer } from './runtime-trust.js';

/** Largest /attest answer read (dev evidence is ~1 KB; SEV-SNP with its VCEK ~3 KB). */
export const MAX_ATTEST_ANSWER_BYTES = 256 * 1024;

export interface AgentChallengeOptions {
  /** The upstream's base URL (`https://agent:8443/v1`); the challenge goes to `/attest` on its origin. */
  readonly baseUrl: string;
  /** The upstream's mesh connector (`mesh.client({ spiffeIds })`): the peer is verified there. */
  readonly connect: buildConnector.connector;
  readonly maxAnswerBytes?: number;
}

/** An error answer or a broken exchange: RuntimeTrust records it as `challenge_failed`. */
export class ChallengeError extends Error {
  override readonly name = 'ChallengeError';
}

/** SHA-256 of the DER SubjectPublicKeyInfo of a certificate (what evidence binds as tlsKeyDigest). */
export function tlsKeyDigestOf(cert: X509Certificate): Buffer {
  return createHash('sha256')
    .update(cert.publicKey.export({ type: 'spki', format: 'der' }))
    .digest();
}

async function readLimited(body: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw new ChallengeError(`the /attest answer is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Builds the `challenge` of an AttestedRuntime. Each challenge opens one new connection (a fresh
 * full handshake: the mesh connector never resumes sessions) and the TLS key digest is taken
 * from that connection's peer certificate; a challenge that needed a second connection is
 * refused, so the evidence and the key always come from the same connection.
 */
export function agentChallenger(
  options: AgentChallengeOptions,
): (nonce: Buffer, signal: AbortSignal) => Promise<ChallengeAnswer> {
  const url = new URL('/attest', options.baseUrl);
  const limit = options.maxAnswerBytes ?? MAX_ATTEST_ANSWER_BYTES;
  return async (nonce, signal) => {
    const peers: (X509Certificate | undefined)[] = [];
    const client = new Client(url.origin, {
      pipelining: 1,
      connect: (connectOptions, callback) =>
        options.connect(connectOptions, (...args) => {
          const [err, socket] = args;
          if (err === null) peers.push((socket as TLSSocket).getPeerX509Certificate?.());
          callback(...args);
        }),
    });
    try {
      const res = await client.request({
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ nonce: nonce.toString('base64url') }),
        signal,
      });
      const text = await readLimited(res.body, limit);
      let answer: unknown;
      try {
        answer = JSON.parse(text);
      } catch {
        throw new ChallengeError(`the agent answered ${res.statusCode} with no JSON`);
      }
      if (res.statusCode !== 200) {
        const code = (answer as { error?: { code?: unknown } } | null)?.error?.code;
        throw new ChallengeError(`the agent answered ${res.statusCode} ${String(code ?? '')}`.trim());
      }
      const evidence = (answer as { evidence?: unknown } | null)?.evidence;
      if (typeof evidence !== 'string' || evidence.length === 0)
        throw new ChallengeError('the agent answered without evidence');
      const [peer] = peers;
      if (peers.length !== 1 || !peer)
        throw new ChallengeError('the challenge did not run on exactly one verified connection');
      return { evidence, tlsKeyDigest: tlsKeyDigestOf(peer) };
    } finally {
      await client.destroy().catch(() => undefined);
    }
  };
}
