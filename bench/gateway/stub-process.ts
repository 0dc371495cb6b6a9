// The benchmark's upstream: a minimal OpenAI-compatible stub in a process of its own.
import { startStubUpstream } from '../../test/helpers/stub-upstream.js';

const stub = await startStubUpstream();
process.stdout.write(`stub listening on ${stub.url}\n`);
process.on('SIGTERM', () => {
  void stub.close().then(() => process.exit(0));
});
