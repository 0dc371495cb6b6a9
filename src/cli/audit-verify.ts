// STUB (being written by a helper).
export const AUDIT_VERIFY_USAGE = `ztgate audit verify [--home DIR] [--checkpoint FILE]`;
export const AUDIT_PROOF_USAGE = `ztgate audit proof --index N [--home DIR]`;

export async function auditVerify(_args: readonly string[]): Promise<number> {
  throw new Error('not implemented yet');
}

export async function auditProof(_args: readonly string[]): Promise<number> {
  throw new Error('not implemented yet');
}
