/** A loopback HTTP server that records requests and answers from a script, for the HTTP sink tests. */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface ScriptedAnswer {
  readonly status: number;
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Collector {
  readonly url: string;
  readonly requests: SeenRequest[];
  /** Times (ms since epoch) at which each request arrived. */
  readonly arrivals: number[];
  close(): Promise<void>;
}

/** Answers request n with answer(n, request); the default answer is 200 `ok`. */
export async function startCollector(
  answer: (n: number, request: SeenRequest) => ScriptedAnswer,
): Promise<Collector> {
  const requests: SeenRequest[] = [];
  const arrivals: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const seen = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(seen);
      arrivals.push(Date.now());
      const reply = answer(requests.length - 1, seen);
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    arrivals,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
