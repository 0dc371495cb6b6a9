import { UsageError } from './args.js';
import { AUDIT_ERASE_USAGE, auditErase } from './audit-erase.js';
import { AUDIT_EXPORT_USAGE, auditExport } from './audit-export.js';
import { AUDIT_KEY_USAGE, auditKey } from './audit-key.js';
import { AUDIT_PROOF_USAGE, AUDIT_VERIFY_USAGE, auditProof, auditVerify } from './audit-verify.js';

export const AUDIT_USAGE = [
  AUDIT_VERIFY_USAGE,
  AUDIT_PROOF_USAGE,
  AUDIT_KEY_USAGE,
  AUDIT_EXPORT_USAGE,
  AUDIT_ERASE_USAGE,
].join('\n\n');

const SUBCOMMANDS: Readonly<Record<string, (args: readonly string[]) => Promise<number>>> = {
  verify: auditVerify,
  proof: auditProof,
  key: auditKey,
  export: auditExport,
  erase: auditErase,
};

/** `ztgate audit verify|proof|key|export|erase`: the ledger's offline tools. */
export async function auditCommand(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  const subcommand = name !== undefined && Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
  if (!subcommand) throw new UsageError(`expected one of ${Object.keys(SUBCOMMANDS).join(', ')}`);
  return subcommand(rest);
}
