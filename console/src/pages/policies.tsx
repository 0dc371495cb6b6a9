// Policies: the running bundles, validating and simulating a candidate, shadow-mode differences.
import { useState } from 'preact/hooks';
import { post } from '../api.js';
import type {
  BundleStatus,
  ChangeCategory,
  PolicyStatus,
  ShadowDifference,
  SimulationReport,
  ValidateResult,
} from '../types.js';
import { ErrorNote, List, Section, Time, useGet } from '../ui.js';

const CATEGORIES: readonly { readonly key: ChangeCategory; readonly label: string }[] = [
  { key: 'allowedToDenied', label: 'Allowed → denied' },
  { key: 'deniedToAllowed', label: 'Denied → allowed' },
  { key: 'obligationsChanged', label: 'Obligations changed' },
];

interface CandidateFile {
  readonly id: number;
  name: string;
  text: string;
}

let nextId = 1;

export function Policies() {
  const status = useGet<PolicyStatus>('/admin/policy');
  const shadow = useGet<{ differences: ShadowDifference[] }>('/admin/policy/shadow?limit=50');
  return (
    <>
      <h1>Policies</h1>
      <section aria-labelledby="running">
        <h2 id="running">Running bundles</h2>
        <Section loaded={status}>
          {(data) => (
            <div class="columns">
              <BundleCard title="Live" bundle={data.live} />
              {data.shadow ? (
                <BundleCard title="Shadow" bundle={data.shadow} />
              ) : (
                <p class="muted">No shadow bundle.</p>
              )}
            </div>
          )}
        </Section>
      </section>
      <Candidate />
      <section aria-labelledby="shadow">
        <h2 id="shadow">Shadow-mode differences</h2>
        <Section loaded={shadow}>
          {(data) =>
            data.differences.length === 0 ? (
              <p class="muted">The shadow bundle decided every recent request as the live one did.</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">Time</th>
                    <th scope="col">Change</th>
                    <th scope="col">Principal</th>
                    <th scope="col">Action / resource</th>
                    <th scope="col">Live</th>
                    <th scope="col">Shadow</th>
                  </tr>
                </thead>
                <tbody>
                  {data.differences.map((d) => (
                    <tr key={`${d.requestId}-${d.at}`}>
                      <td>
                        <Time value={d.at} />
                      </td>
                      <td>{d.change.replaceAll('_', ' ')}</td>
                      <td>{d.principalId ?? '—'}</td>
                      <td>
                        {d.action} / {d.resource}
                      </td>
                      <td>
                        {d.live.effect} <List items={d.live.obligations} />
                      </td>
                      <td>
                        {d.shadow.effect} <List items={d.shadow.obligations} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </Section>
      </section>
    </>
  );
}

function BundleCard({ title, bundle: b }: { readonly title: string; readonly bundle: BundleStatus }) {
  return (
    <div class="card">
      <h3>{title}</h3>
      <dl class="pairs">
        <dt>Digest</dt>
        <dd class="mono">{b.digest}</dd>
        <dt>Source</dt>
        <dd>{b.source}</dd>
        <dt>Signature</dt>
        <dd>{b.signedBy ? `signed by ${b.signedBy}` : <span class="bad">unsigned</span>}</dd>
        <dt>Policies</dt>
        <dd>{b.policies}</dd>
        <dt>Tests</dt>
        <dd>
          {b.tests.passed} passed,{' '}
          <span class={b.tests.failed ? 'bad' : undefined}>{b.tests.failed} failed</span>
        </dd>
        <dt>Loaded</dt>
        <dd>
          <Time value={b.loadedAt} />
        </dd>
        <dt>Last reload</dt>
        <dd>
          {b.lastReload ? (
            <>
              {b.lastReload.outcome} ({b.lastReload.trigger}
              {b.lastReload.code ? `, ${b.lastReload.code}` : ''}), <Time value={b.lastReload.at} />
            </>
          ) : (
            '—'
          )}
        </dd>
      </dl>
    </div>
  );
}

function Candidate() {
  const [files, setFiles] = useState<CandidateFile[]>([{ id: 0, name: 'policies.cedar', text: '' }]);
  const [since, setSince] = useState('');
  const [limit, setLimit] = useState('1000');
  const [busy, setBusy] = useState<'validate' | 'simulate' | undefined>();
  const [validation, setValidation] = useState<ValidateResult | undefined>();
  const [report, setReport] = useState<SimulationReport | undefined>();
  const [error, setError] = useState<unknown>();

  const body = () =>
    Object.fromEntries(files.filter((f) => f.name.trim()).map((f) => [f.name.trim(), f.text]));
  const update = (id: number, change: Partial<CandidateFile>) =>
    setFiles(files.map((f) => (f.id === id ? { ...f, ...change } : f)));

  const upload = async (list: FileList | null) => {
    if (!list) return;
    const added: CandidateFile[] = [];
    for (const file of Array.from(list))
      added.push({ id: nextId++, name: file.name, text: await file.text() });
    setFiles((old) => [
      ...old.filter((f) => f.text !== '' || !added.some((a) => a.name === f.name)),
      ...added,
    ]);
  };

  const run = async (what: 'validate' | 'simulate') => {
    setBusy(what);
    setError(undefined);
    try {
      if (what === 'validate') {
        setValidation((await post<ValidateResult>('/v1/policy/validate', { files: body() })).body);
      } else {
        const sinceIso = since ? new Date(since).toISOString() : undefined;
        const request = {
          files: body(),
          ...(sinceIso ? { since: sinceIso } : {}),
          ...(limit ? { limit: Number(limit) } : {}),
        };
        setReport((await post<SimulationReport>('/v1/policy/simulate', request)).body);
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <section aria-labelledby="candidate">
      <h2 id="candidate">Candidate bundle</h2>
      {files.map((f, i) => (
        <fieldset key={f.id} class="card">
          <legend>File {i + 1}</legend>
          <label>
            File name
            <input
              class="mono"
              value={f.name}
              onInput={(e) => update(f.id, { name: e.currentTarget.value })}
            />
          </label>
          <label>
            Contents of {f.name || `file ${i + 1}`}
            <textarea
              class="mono"
              rows={10}
              spellcheck={false}
              value={f.text}
              onInput={(e) => update(f.id, { text: e.currentTarget.value })}
            />
          </label>
          {files.length > 1 && (
            <button type="button" onClick={() => setFiles(files.filter((x) => x.id !== f.id))}>
              Remove {f.name || `file ${i + 1}`}
            </button>
          )}
        </fieldset>
      ))}
      <div class="actions">
        <button type="button" onClick={() => setFiles([...files, { id: nextId++, name: '', text: '' }])}>
          Add a file
        </button>
        <label>
          Upload files
          <input type="file" multiple onChange={(e) => void upload(e.currentTarget.files)} />
        </label>
      </div>
      <div class="actions">
        <button
          type="button"
          disabled={busy !== undefined}
          onClick={() => void run('validate')}
          data-testid="validate"
        >
          Validate
        </button>
        <label>
          Replay traffic since
          <input type="datetime-local" value={since} onInput={(e) => setSince(e.currentTarget.value)} />
        </label>
        <label>
          At most
          <input
            type="number"
            min={1}
            max={100000}
            value={limit}
            onInput={(e) => setLimit(e.currentTarget.value)}
          />
        </label>
        <button
          type="button"
          disabled={busy !== undefined}
          onClick={() => void run('simulate')}
          data-testid="simulate"
        >
          Simulate against recorded traffic
        </button>
      </div>
      {busy && <p aria-live="polite">{busy === 'validate' ? 'Validating…' : 'Simulating…'}</p>}
      {error !== undefined && <ErrorNote error={error} />}
      {validation && (
        <div class="card" data-testid="validate-result" aria-live="polite">
          <h3>Validation</h3>
          {validation.ok ? (
            <p class="good">
              Valid. Digest <span class="mono">{validation.digest}</span>
            </p>
          ) : (
            <p class="bad">
              Refused: {validation.message ?? 'invalid'}{' '}
              {validation.code && <span class="mono">({validation.code})</span>}
            </p>
          )}
          {validation.tests && (
            <>
              <p>
                Tests: {validation.tests.passed} passed, {validation.tests.failed} failed
              </p>
              {validation.tests.failures.length > 0 && (
                <ul>
                  {validation.tests.failures.map((f, i) => (
                    <li key={i} class="mono">
                      {typeof f === 'string' ? f : JSON.stringify(f)}
                    </li>
                  ))}
                </ul>
              )}
            </>
          )}
        </div>
      )}
      {report && <SimulationResult report={report} />}
    </section>
  );
}

function SimulationResult({ report: r }: { readonly report: SimulationReport }) {
  return (
    <div class="card" data-testid="simulate-result" aria-live="polite">
      <h3>Simulation of {r.bundleDigest.slice(0, 16)}…</h3>
      <table>
        <caption class="visually-hidden">Decisions by change</caption>
        <tbody>
          <tr>
            <th scope="row">Decisions replayed</th>
            <td>{r.total}</td>
          </tr>
          <tr>
            <th scope="row">Unchanged</th>
            <td>{r.unchanged}</td>
          </tr>
          {CATEGORIES.map((c) => (
            <tr key={c.key}>
              <th scope="row">{c.label}</th>
              <td data-testid={`simulate-${c.key}`}>{r[c.key]}</td>
            </tr>
          ))}
          <tr>
            <th scope="row">Skipped</th>
            <td>
              {r.skipped} (no recorded input {r.skippedReasons.noInput}, unknown version{' '}
              {r.skippedReasons.unknownVersion}, invalid {r.skippedReasons.invalid})
            </td>
          </tr>
        </tbody>
      </table>
      {CATEGORIES.filter((c) => r.examples[c.key].length > 0).map((c) => (
        <div key={c.key}>
          <h4>{c.label}: examples</h4>
          <table>
            <thead>
              <tr>
                <th scope="col">Request</th>
                <th scope="col">Principal</th>
                <th scope="col">Action / resource</th>
                <th scope="col">Before</th>
                <th scope="col">After</th>
              </tr>
            </thead>
            <tbody>
              {r.examples[c.key].map((x) => (
                <tr key={x.requestId}>
                  <td class="mono">
                    {x.requestId}
                    <br />
                    <Time value={x.time} />
                  </td>
                  <td>{x.principalId ?? '—'}</td>
                  <td>
                    {x.action} / {x.resource}
                  </td>
                  <td>
                    {x.before.effect} by <List items={x.before.determiningPolicies} />; obligations{' '}
                    <List items={x.before.obligations} />
                  </td>
                  <td>
                    {x.after.effect} by <List items={x.after.determiningPolicies} />; obligations{' '}
                    <List items={x.after.obligations} />
                    {x.after.errors.length > 0 && (
                      <span class="bad"> errors: {x.after.errors.join(', ')}</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </div>
  );
}
