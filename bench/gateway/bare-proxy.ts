// A reference point for the benchmark, not part of ztgate: the thinnest possible Node.js hop
// (node:http server → undici pool → upstream, body passed through untouched). The difference
// between it and the direct path is the cost of one extra HTTP hop on this machine; the
// difference between ztgate and it is the cost of ztgate's pipeline.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const upstream = process.argv[2];
if (!upstream) throw new Error('usage: bare-proxy.ts UPSTREAM_ORIGIN');
const pool = new Pool(upstream, { connections: 64 });
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    pool
      .request({
        method: 'POST',
        path: req.url ?? '/',
        headers: { 'content-type': 'application/json' },
        body: Buffer.concat(chunks),
      })
      .then(async (up) => {
        const body = Buffer.from(await up.body.arrayBuffer());
        res.writeHead(up.statusCode, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      })
      .catch(() => {
        res.writeHead(502).end();
      });
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(
    `bare proxy listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`,
  );
});
process.on('SIGTERM', () => process.exit(0));
