// STUB (being written by a helper).
export const AUDIT_EXPORT_USAGE = `ztgate audit export [--home DIR]`;

export async function auditExport(_args: readonly string[]): Promise<number> {
  throw new Error('not implemented yet');
}
