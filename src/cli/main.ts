import { APIKEY_USAGE, apikeyCommand } from './apikey.js';
import { AGENT_USAGE, agentCommand } from './agent.js';
import { UsageError } from './args.js';
import { AUDIT_USAGE, auditCommand } from './audit.js';
import { CA_USAGE, caCommand } from './ca.js';
import { CONFIG_USAGE, configCommand } from './config-check.js';
import { GUARD_USAGE, guardCommand } from './guard.js';
import { KEYS_USAGE, keysCommand } from './keys.js';
import { MODEL_USAGE, modelCommand } from './model.js';
import { POLICY_USAGE, policyCommand } from './policy.js';
import { REVOKE_USAGE, revokeCommand } from './revoke.js';
import { SECRET_USAGE, secretCommand } from './secret.js';
import { TOKEN_USAGE, token } from './token.js';
import { UP_USAGE, up } from './up.js';

const COMMANDS: Readonly<Record<string, (args: readonly string[]) => Promise<number>>> = {
  up,
  token,
  config: configCommand,
  keys: keysCommand,
  secret: secretCommand,
  ca: caCommand,
  apikey: apikeyCommand,
  revoke: revokeCommand,
  policy: policyCommand,
  guard: guardCommand,
  audit: auditCommand,
  model: modelCommand,
  agent: agentCommand,
};

const USAGE = `usage: ztgate <command> [options]

${UP_USAGE}

${TOKEN_USAGE}

${CONFIG_USAGE}

${KEYS_USAGE}

${SECRET_USAGE}

${CA_USAGE}

${APIKEY_USAGE}

${REVOKE_USAGE}

${POLICY_USAGE}

${GUARD_USAGE}

${AUDIT_USAGE}

${MODEL_USAGE}

${AGENT_USAGE}
`;

/** The `ztgate` command. Returns the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`ztgate: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`ztgate ${name}: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`ztgate ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
