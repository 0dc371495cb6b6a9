import {
  CHANGE_CATEGORIES,
  decisionRowOf,
  Simulation,
  type ChangeCategory,
  type PolicyBundle,
  type SimulationExample,
  type SimulationReport,
} from '../policy/index.js';
import { UsageError } from './args.js';
import { parseDuration } from './duration.js';
import { withStoreContext } from './key-context.js';

/** Audit rows read per query: simulation streams the log, it never loads it whole. */
const PAGE = 1000;

export interface SimulateOptions {
  readonly home: string | undefined;
  /** `--since`, a duration such as 24h. */
  readonly since: string | undefined;
  /** `--examples`, per category. */
  readonly examples: string | undefined;
  readonly json: boolean;
  readonly now?: () => number;
}

const TITLES: Readonly<Record<ChangeCategory, string>> = {
  allowedToDenied: 'allowed → denied',
  deniedToAllowed: 'denied → allowed',
  obligationsChanged: 'obligations changed',
};

function examplesArg(text: string | undefined): number {
  if (text === undefined) return 5;
  if (!/^\d{1,4}$/.test(text)) throw new UsageError('--examples must be a number 0-9999');
  return Number(text);
}

const list = (items: readonly string[]): string => (items.length === 0 ? '-' : items.join(', '));

function describeExample(e: SimulationExample): string[] {
  return [
    `  ${e.requestId}  ${e.time}  ${e.principalId ?? '(no principal)'}  ${e.action} ${e.resource}`,
    `    before: ${e.before.effect}  policies: ${list(e.before.determiningPolicies)}  obligations: ${list(e.before.obligations)}`,
    `    after:  ${e.after.effect}  policies: ${list(e.after.determiningPolicies)}  obligations: ${list(e.after.obligations)}` +
      (e.after.errors.length > 0 ? `  errors: ${list(e.after.errors)}` : ''),
  ];
}

/** The human report: counts per category, then the examples of each category that changed. */
export function formatSimulationReport(report: SimulationReport, since: string | undefined): string {
  const r = report.skippedReasons;
  const lines = [
    `candidate ${report.bundleDigest}, ${report.total} decision(s)${since ? ` since ${since}` : ''}`,
    `  unchanged            ${report.unchanged}`,
    ...CHANGE_CATEGORIES.map((c) => `  ${TITLES[c].padEnd(20)} ${report[c]}`),
    `  skipped              ${report.skipped}` +
      (report.skipped > 0
        ? ` (no input ${r.noInput}, unknown version ${r.unknownVersion}, invalid ${r.invalid})`
        : ''),
  ];
  for (const category of CHANGE_CATEGORIES) {
    const examples = report.examples[category];
    if (examples.length === 0) continue;
    lines.push('', `${TITLES[category]} (${examples.length} of ${report[category]}):`);
    for (const e of examples) lines.push(...describeExample(e));
  }
  return lines.join('\n');
}

/**
 * `ztgate policy simulate`: replays the decision inputs recorded in the home's audit store
 * against `bundle` and reports what would change. Reads the store only; needs no running gateway.
 */
export function simulateCommand(bundle: PolicyBundle, options: SimulateOptions): Promise<number> {
  const examples = examplesArg(options.examples);
  const now = options.now ?? Date.now;
  const since =
    options.since === undefined
      ? undefined
      : new Date(now() - parseDuration(options.since, '--since')).toISOString();
  return withStoreContext(options.home, 'policy simulate', async ({ store }) => {
    const simulation = new Simulation(bundle, { examples });
    for (let afterSeq = 0; ;) {
      const page = await store.audit.list({ afterSeq, limit: PAGE, ...(since ? { since } : {}) });
      for (const record of page) {
        const row = decisionRowOf(record.seq, record.entry);
        if (row) simulation.add(row);
      }
      const last = page[page.length - 1];
      if (page.length < PAGE || !last) break;
      afterSeq = last.seq;
    }
    const report = simulation.report();
    const text = options.json
      ? JSON.stringify({ ...(since ? { since } : {}), ...report }, null, 2)
      : formatSimulationReport(report, since);
    process.stdout.write(text + '\n');
    return 0;
  });
}
