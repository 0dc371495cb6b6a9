import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ensureHome, parseConfig } from '../../src/config/index.js';
import type { Stages } from '../../src/core/index.js';
import { readDemoClient, requestDemoToken } from '../../src/demo/index.js';
import { startGateway, type RunningGateway } from '../../src/gateway/assemble.js';
import { createLogger } from '../../src/cli/logger.js';

/** Collects every log line the gateway writes. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  text(): string {
    return this.lines.join('\n');
  }
}

export interface TestGateway {
  readonly gw: RunningGateway;
  readonly home: string;
  readonly logs: LogCapture;
  /** A bearer token from the demo issuer. */
  token(user?: string, roles?: readonly string[]): Promise<string>;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  /** Extra YAML appended to the base test config (ports 0, demo mode, SQLite in a temp home). */
  readonly yaml?: string;
  readonly stageOverrides?: Partial<Stages>;
  readonly demo?: boolean;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** More `server:` settings (flow-mapping items), for example `adminTls: true`. */
  readonly server?: string;
  /** An existing home to start in (removed on close); by default a fresh temp home. */
  readonly home?: string;
}

/** Starts a whole gateway in this process on free loopback ports, in a fresh temp home. */
export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const home = options.home ?? (await mkdtemp(join(tmpdir(), 'ztgate-test-')));
  await ensureHome(home);
  const demo = options.demo ?? true;
  const yaml = `
server: { port: 0, adminPort: 0${options.server ? `, ${options.server}` : ''} }
logging: { level: debug }
demo: { enabled: ${demo}, issuerPort: 0, modelPort: 0 }
${options.yaml ?? ''}`;
  const config = parseConfig(yaml, options.env ?? {});
  const logs = new LogCapture();
  const logger = createLogger('debug', logs);
  const gw = await startGateway({
    config,
    home,
    logger,
    processMetrics: false,
    ...(options.env ? { env: options.env } : {}),
    ...(options.stageOverrides ? { stageOverrides: options.stageOverrides } : {}),
  });
  return {
    gw,
    home,
    logs,
    async token(user = 'alice', roles = []) {
      if (!gw.demoIssuer) throw new Error('demo issuer not running');
      const client = await readDemoClient(home);
      const result = await requestDemoToken({
        issuer: gw.demoIssuer,
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        user,
        roles,
      });
      return result.accessToken;
    },
    async close() {
      await gw.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}
