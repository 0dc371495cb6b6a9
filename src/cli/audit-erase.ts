// STUB (being written by a helper).
export const AUDIT_ERASE_USAGE = `ztgate audit erase --subject ID [--home DIR]`;

export async function auditErase(_args: readonly string[]): Promise<number> {
  throw new Error('not implemented yet');
}
