// Overview: traffic from the latest ledger entries and /metrics, risk, runtimes, open incidents.
import { useMemo, useState } from 'preact/hooks';
import { metricTotals, summarise } from '../aggregate.js';
import { withQuery } from '../api.js';
import { RequestsChart } from '../chart.js';
import type { IncidentList, LedgerEntries, Runtime } from '../types.js';
import { Badge, Section, Time, useGet } from '../ui.js';
import { useText } from '../use-text.js';

const WINDOWS = [15, 60, 240, 1440];

export function Overview() {
  const [minutes, setMinutes] = useState(60);
  const since = useMemo(() => new Date(Date.now() - minutes * 60_000).toISOString(), [minutes]);
  const ledger = useGet<LedgerEntries>(withQuery('/v1/ledger/entries', { since, limit: 1000 }));
  const metrics = useText('/metrics');
  const risk = useGet<{ top: { key: string; score: number }[] }>('/v1/risk?limit=10');
  const runtimes = useGet<{ runtimes: Runtime[] }>('/v1/runtimes');
  const incidents = useGet<IncidentList>('/v1/incidents?status=open&limit=20');
  const summary = useMemo(() => summarise((ledger.data?.entries ?? []).map((r) => r.entry)), [ledger.data]);
  const totals = useMemo(() => (metrics.data ? metricTotals(metrics.data) : undefined), [metrics.data]);

  return (
    <>
      <h1>Overview</h1>
      <section aria-labelledby="traffic">
        <div class="section-head">
          <h2 id="traffic">Traffic</h2>
          <label>
            Window{' '}
            <select value={minutes} onChange={(e) => setMinutes(Number(e.currentTarget.value))}>
              {WINDOWS.map((m) => (
                <option value={m} key={m}>
                  last {m >= 60 ? `${m / 60} h` : `${m} min`}
                </option>
              ))}
            </select>
          </label>
        </div>
        <Section loaded={ledger}>
          {(data) => (
            <>
              <dl class="stats">
                <div>
                  <dt>Requests</dt>
                  <dd data-testid="stat-requests">{summary.requests}</dd>
                </div>
                <div>
                  <dt>Denials</dt>
                  <dd data-testid="stat-denials">{summary.denials}</dd>
                </div>
                <div>
                  <dt>Entries read</dt>
                  <dd>
                    {data.entries.length}
                    {data.entries.length >= 1000 ? ' (first 1000)' : ''}
                  </dd>
                </div>
                {totals && (
                  <>
                    <div>
                      <dt>Requests since start</dt>
                      <dd>{totals.get('ztgate_http_requests_total') ?? 0}</dd>
                    </div>
                    <div>
                      <dt>Ledger checkpoint size</dt>
                      <dd>{totals.get('ztgate_ledger_checkpoint_size') ?? '—'}</dd>
                    </div>
                    <div>
                      <dt>Audit failures</dt>
                      <dd>{totals.get('ztgate_audit_failures_total') ?? 0}</dd>
                    </div>
                  </>
                )}
              </dl>
              <RequestsChart {...summary.perMinute} />
              <h3>Findings by type</h3>
              {summary.findings.length === 0 ? (
                <p class="muted">No findings.</p>
              ) : (
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Type</th>
                      <th scope="col">Count</th>
                    </tr>
                  </thead>
                  <tbody>
                    {summary.findings.map(([type, count]) => (
                      <tr key={type}>
                        <td>{type}</td>
                        <td>{count}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </>
          )}
        </Section>
      </section>
      <div class="columns">
        <section aria-labelledby="risky">
          <h2 id="risky">Top risky principals</h2>
          <Section loaded={risk}>
            {(data) =>
              data.top.length === 0 ? (
                <p class="muted">No risk scores.</p>
              ) : (
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Subject</th>
                      <th scope="col">Score</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.top.map((r) => (
                      <tr key={r.key}>
                        <td>{r.key}</td>
                        <td>{r.score.toFixed(1)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )
            }
          </Section>
        </section>
        <section aria-labelledby="open-incidents">
          <h2 id="open-incidents">Open incidents</h2>
          <Section loaded={incidents}>
            {(data) =>
              data.incidents.length === 0 ? (
                <p class="muted">No open incidents.</p>
              ) : (
                <ul class="plain">
                  {data.incidents.map((i) => (
                    <li key={i.id}>
                      <Badge kind={i.severity}>{i.severity}</Badge>{' '}
                      <a href={`#/incidents/${i.id}`}>{i.reason}</a>{' '}
                      <span class="muted">
                        {i.subject.kind}:{i.subject.id}, <Time value={i.openedAt} />
                      </span>
                    </li>
                  ))}
                </ul>
              )
            }
          </Section>
        </section>
      </div>
      <section aria-labelledby="rt">
        <h2 id="rt">Runtimes</h2>
        <Section loaded={runtimes}>
          {(data) => (
            <ul class="plain">
              {data.runtimes.map((r) => (
                <li key={r.id}>
                  <strong>{r.id}</strong> <AttestationBadge runtime={r} />
                </li>
              ))}
            </ul>
          )}
        </Section>
      </section>
    </>
  );
}

export function AttestationBadge({ runtime: r }: { readonly runtime: Runtime }) {
  if (r.disabled) return <Badge kind="critical">disabled</Badge>;
  if (r.attestation === 'none') return <Badge kind="neutral">no attestation</Badge>;
  return (
    <>
      {r.attested ? (
        <Badge kind="ok">attested ({r.attestation})</Badge>
      ) : (
        <Badge kind="high">not attested</Badge>
      )}
      {r.insecure && (
        <>
          {' '}
          <Badge kind="medium">insecure (dev evidence)</Badge>
        </>
      )}
    </>
  );
}
