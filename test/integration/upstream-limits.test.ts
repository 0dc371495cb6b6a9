import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { UpstreamError } from '../../src/core/index.js';
import { createConnector } from '../../src/runtime/index.js';

/** A runaway upstream cannot make ztgate buffer without bound. */
describe('upstream answer size', () => {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const block = Buffer.alloc(1024 * 1024, 0x20);
      res.write('{"choices":[],"pad":"');
      let sent = 0;
      const pump = (): void => {
        while (sent < 40) {
          sent++;
          if (!res.write(block)) return void res.once('drain', pump);
        }
        res.end('"}');
      };
      pump();
    });
  });
  let url = '';
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('an answer over 32 MiB is refused as upstream_error', async () => {
    const connector = createConnector('openai-compatible', 'big', {
      baseUrl: url,
      connectTimeoutMs: 1000,
      headersTimeoutMs: 5000,
      bodyTimeoutMs: 5000,
      totalTimeoutMs: 20_000,
      retries: 0,
      maxConnections: 1,
    });
    try {
      await assert.rejects(
        connector.chat(
          { model: 'x', messages: [{ role: 'user', content: 'x' }] },
          {
            signal: new AbortController().signal,
            requestId: 'r',
          },
        ),
        (err: unknown) => err instanceof UpstreamError && err.code === 'upstream_error',
      );
    } finally {
      await connector.close();
    }
  });
});
