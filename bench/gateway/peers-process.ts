// The benchmark's peers, in a process of their own: a minimal OpenAI-compatible upstream and an
// OpenID provider (the demo one) standing in for the company's identity provider.
import { startDemoIssuer } from '../../src/demo/index.js';
import { startFakeUpstream } from '../../test/helpers/fake-upstream.js';

const home = process.argv[2];
if (!home) throw new Error('usage: peers-process.ts HOME');
const fake = await startFakeUpstream();
const issuer = await startDemoIssuer({ home, port: 0, audience: 'ztgate', onWarn: () => {} });
process.stdout.write(`upstream listening on ${fake.url}\nissuer listening on ${issuer.issuer}\n`);
process.on('SIGTERM', () => {
  void Promise.all([fake.close(), issuer.close()]).then(() => process.exit(0));
});
