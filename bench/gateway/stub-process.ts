// The benchmark's peers, in a process of their own: a minimal OpenAI-compatible upstream and an
// OpenID provider (the demo one) standing in for the company's identity provider.
import { startDemoIssuer } from '../../src/demo/index.js';
import { startStubUpstream } from '../../test/helpers/stub-upstream.js';

const home = process.argv[2];
if (!home) throw new Error('usage: stub-process.ts HOME');
const stub = await startStubUpstream();
const issuer = await startDemoIssuer({ home, port: 0, audience: 'ztgate', onWarn: () => {} });
process.stdout.write(`stub listening on ${stub.url}\nissuer listening on ${issuer.issuer}\n`);
process.on('SIGTERM', () => {
  void Promise.all([stub.close(), issuer.close()]).then(() => process.exit(0));
});
