import { fileURLToPath } from 'node:url';
import { ConfigError, defaultHome, ensureHome, loadConfigFile } from '../config/index.js';
import { startGateway } from '../gateway/assemble.js';
import { parse, portArg } from './args.js';
import { createLogger } from './logger.js';

export const UP_USAGE = `ztgate up [--home DIR] [--port N] [--admin-port N] [--demo]
  Starts the gateway. DIR defaults to $ZTGATE_HOME or ./.ztgate and is created on first start.`;

const BIN = fileURLToPath(new URL('../../bin/ztgate.js', import.meta.url));

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `ztgate up`: runs until SIGINT/SIGTERM. Returns the exit code. */
export async function up(args: readonly string[]): Promise<number> {
  const { values } = parse(args, {
    home: { type: 'string' },
    port: { type: 'string' },
    'admin-port': { type: 'string' },
    demo: { type: 'boolean' },
  });
  const port = portArg(values.port, '--port');
  const adminPort = portArg(values['admin-port'], '--admin-port');
  const { paths, created } = await ensureHome(values.home ?? defaultHome());

  let config;
  try {
    config = await loadConfigFile(paths.config, process.env, {
      ...(port === undefined ? {} : { port }),
      ...(adminPort === undefined ? {} : { adminPort }),
      ...(values.demo ? { demo: true } : {}),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ztgate: ${paths.config}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger(config.logging.level);
  if (created) logger.info({ home: paths.dir }, 'created home directory with a generated ztgate.yaml');

  const gateway = await startGateway({ config, home: paths.dir, logger });
  const lines = [
    `ztgate listening on ${gateway.dataUrl}`,
    `ztgate admin (health, readiness, metrics, console) on ${gateway.adminUrl}`,
  ];
  if (config.console.enabled) lines.push(`security console: ${gateway.adminUrl}/console/`);
  if (gateway.demoIssuer) {
    lines.push(
      `DEMO MODE: demo identity provider ${gateway.demoIssuer}, demo model "demo" (answers by describing what it received)`,
      'Try it:',
      `  curl -s ${gateway.dataUrl}/v1/chat/completions \\`,
      `    -H "Authorization: Bearer $(node ${shellQuote(BIN)} token --home ${shellQuote(paths.dir)} --user alice)" \\`,
      `    -H 'Content-Type: application/json' \\`,
      `    -d '{"model":"demo","messages":[{"role":"user","content":"Hello, my name is Alice Smith."}]}'`,
      'Console sign-in (demo): any user name; names starting with "admin" are administrators.',
    );
  }
  // The handlers are in place before the listening line goes out: a supervisor that sends
  // SIGTERM as soon as it reads that line must get a clean shutdown, not the default kill.
  // SIGHUP reloads the policy bundle (a refused candidate leaves the running one in place).
  const reload = (): void => {
    logger.info({ signal: 'SIGHUP' }, 'reloading the policy bundle');
    void gateway.policy
      .reload('signal', 'system:sighup')
      .catch((err: unknown) =>
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'policy reload failed'),
      );
  };
  process.on('SIGHUP', reload);
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.stdout.write(lines.join('\n') + '\n');
  await stopped;
  process.off('SIGHUP', reload);
  await gateway.close();
  logger.flush();
  return 0;
}
