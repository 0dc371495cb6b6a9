import { defaultHome, homePaths, readRunState } from '../config/index.js';
import { readDemoClient, requestDemoToken } from '../demo/token-client.js';
import { parse, UsageError } from './args.js';

export const TOKEN_USAGE = `ztgate token [--home DIR] --user NAME [--role R]...
  Prints a bearer token from the running DEMO identity provider of that home.`;

/** `ztgate token`: asks the running demo issuer for a token and prints it. */
export async function token(args: readonly string[]): Promise<number> {
  const { values } = parse(args, {
    home: { type: 'string' },
    user: { type: 'string' },
    role: { type: 'string', multiple: true },
  });
  if (!values.user) throw new UsageError('--user is required');
  const paths = homePaths(values.home ?? defaultHome());
  const state = await readRunState(paths);
  if (!state?.demoIssuer) {
    process.stderr.write(
      `ztgate: no demo identity provider is running for ${paths.dir} (start one with: ztgate up --demo --home ${paths.dir})\n`,
    );
    return 1;
  }
  const client = await readDemoClient(paths.dir);
  const result = await requestDemoToken({
    issuer: state.demoIssuer,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    user: values.user,
    roles: values.role ?? [],
    signal: AbortSignal.timeout(10_000),
  });
  process.stdout.write(result.accessToken + '\n');
  return 0;
}
