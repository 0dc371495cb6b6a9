import { constants } from 'node:crypto';
import type { Socket } from 'node:net';
import type { SecureContextOptions, Server as TlsServer, TLSSocket, TlsOptions } from 'node:tls';
import { buildConnector } from 'undici';
import { MeshError, isMeshError } from './errors.js';
import type { WorkloadIdentity } from './identity.js';
import {
  chainOf,
  recheckPeer,
  verifyPeerChain,
  verifyTlsPeer,
  type PeerPolicy,
  type VerifiedPeer,
} from './peer.js';
import type { SvidMaterial } from './svid.js';
import type { TrustBundle } from './trust-bundle.js';

export type ClientCertificateMode = 'off' | 'optional' | 'required';

const MIN_VERSION = 'TLSv1.3';

function contextOptions(svid: SvidMaterial, bundle: TrustBundle): SecureContextOptions {
  return { cert: svid.chainPem, key: svid.keyPem, ca: bundle.pem, minVersion: MIN_VERSION };
}

/**
 * A listener's context: no TLS session tickets, so no connection is ever resumed. Each connection
 * gets a full handshake, so the client's whole chain is sent and checked every time (a resumed
 * session need not carry it).
 */
function serverContextOptions(svid: SvidMaterial, bundle: TrustBundle): SecureContextOptions {
  return { ...contextOptions(svid, bundle), secureOptions: constants.SSL_OP_NO_TICKET };
}

export interface MeshServerOptions {
  readonly identity: WorkloadIdentity;
  readonly bundle: TrustBundle;
  readonly policy: PeerPolicy;
  readonly clientCertificates: ClientCertificateMode;
  /** Told of each refused connection or request (it is closed); for the log. */
  readonly onRefused?: (err: MeshError, remoteAddress: string | undefined) => void;
}

/** A TLS listener that presents the workload's SVID and verifies its clients' SVIDs. */
export interface MeshServerTls {
  /** Options for `https.createServer` (merge with the HTTP options). */
  readonly tlsOptions: TlsOptions;
  /** Wires client verification and certificate renewal into the server created with tlsOptions. */
  attach(server: TlsServer): void;
  /**
   * The verified client of a connection (undefined: no certificate, where that is allowed),
   * re-checked for revocation and expiry. Throws MeshError when it no longer passes; a socket
   * the listener never verified (not TLS) is an error too.
   */
  peerOf(socket: Socket): VerifiedPeer | undefined;
}

/**
 * Builds the TLS side of a listener. Node's TLS layer verifies the client's chain against the
 * trust bundle; every other check (SVID form, trust domain, revocation, allow-list) runs as soon
 * as the handshake completes, before any request on the connection is read, and a connection
 * that fails is destroyed. Certificate errors are handled here rather than by node's
 * `rejectUnauthorized`, so that each refusal is reported with its code.
 */
export function meshServerTls(options: MeshServerOptions): MeshServerTls {
  const { identity, bundle, policy, clientCertificates } = options;
  const verified = new WeakMap<Socket, VerifiedPeer | null>();
  const first = identity.current;
  const refuse = (err: unknown, socket: Socket): void => {
    const meshError = isMeshError(err)
      ? err
      : new MeshError('peer_not_svid', 'peer check failed', { cause: err });
    options.onRefused?.(meshError, socket.remoteAddress);
    socket.destroy();
  };
  return {
    tlsOptions: {
      ...serverContextOptions(first, bundle),
      requestCert: clientCertificates !== 'off',
      rejectUnauthorized: false,
    },
    attach(server: TlsServer): void {
      // Prepended: the check runs before the HTTP layer attaches to the connection, so a refused
      // connection never has a request parsed.
      server.prependListener('secureConnection', (socket: TLSSocket) => {
        if (clientCertificates === 'off') {
          verified.set(socket, null);
          return;
        }
        try {
          verified.set(socket, verifyTlsPeer(socket, policy, clientCertificates === 'required') ?? null);
        } catch (err) {
          refuse(err, socket);
        }
      });
      const stop = identity.onRenewed((svid) => server.setSecureContext(serverContextOptions(svid, bundle)));
      // Renewed between tlsOptions and now: start with the current SVID.
      if (identity.current !== first) server.setSecureContext(serverContextOptions(identity.current, bundle));
      server.on('close', stop);
    },
    peerOf(socket: Socket): VerifiedPeer | undefined {
      const peer = verified.get(socket);
      if (peer === undefined) {
        const err = new MeshError('peer_certificate_missing', 'the connection was not verified by the mesh');
        refuse(err, socket);
        throw err;
      }
      if (peer === null) return undefined;
      try {
        recheckPeer(peer, policy);
      } catch (err) {
        refuse(err, socket);
        throw err;
      }
      return peer;
    },
  };
}

export interface MeshClientOptions {
  readonly identity: WorkloadIdentity;
  readonly bundle: TrustBundle;
  /** Which server IDs this client accepts. */
  readonly policy: PeerPolicy;
  readonly connectTimeoutMs: number;
}

/**
 * An undici connector for mutual TLS: presents the workload's current SVID, verifies the server's
 * chain against the trust bundle, and checks the server's SPIFFE ID (instead of its host name)
 * in `checkServerIdentity`. After a renewal, new connections use the new SVID; open ones stay.
 * TLS sessions are not resumed, so every new connection is fully verified.
 */
export function meshConnector(options: MeshClientOptions): {
  readonly connect: buildConnector.connector;
  close(): void;
} {
  const { identity, bundle, policy } = options;
  const build = (svid: SvidMaterial): buildConnector.connector =>
    buildConnector({
      ...contextOptions(svid, bundle),
      timeout: options.connectTimeoutMs,
      maxCachedSessions: 0,
      rejectUnauthorized: true,
      checkServerIdentity: (_host, cert) => {
        try {
          verifyPeerChain(chainOf(cert), policy);
          return undefined;
        } catch (err) {
          return err instanceof Error ? err : new Error(String(err));
        }
      },
    });
  let current = build(identity.current);
  const stop = identity.onRenewed((svid) => {
    current = build(svid);
  });
  return {
    connect: (connectOptions, callback) => current(connectOptions, callback),
    close: () => {
      stop();
    },
  };
}
