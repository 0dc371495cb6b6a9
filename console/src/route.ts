// Hash routes under /console/: #/, #/ledger, #/policies, #/incidents[/id], #/runtimes.

export const PAGES = [
  { path: '', id: 'overview', label: 'Overview' },
  { path: 'ledger', id: 'ledger', label: 'Audit ledger' },
  { path: 'policies', id: 'policies', label: 'Policies' },
  { path: 'incidents', id: 'incidents', label: 'Incidents and approvals' },
  { path: 'runtimes', id: 'runtimes', label: 'Runtimes and keys' },
] as const;

/** `#/incidents/inc_…` → { page: 'incidents', rest: 'inc_…' }; an unknown page is the overview. */
export function parseRoute(hash: string): { page: string; rest: string | undefined } {
  const [page = '', rest] = hash.replace(/^#\/?/, '').split('/');
  const known = PAGES.some((p) => p.path === page);
  return { page: known ? page : '', rest: known && rest ? decodeURIComponent(rest) : undefined };
}
