// Incidents (list, timeline, acknowledge/resolve), quarantines (four-eyes release), held tool calls.
import { useState } from 'preact/hooks';
import { ApiError, describeError, post, withQuery } from '../api.js';
import type { Approval, Incident, IncidentList, IncidentTimeline, QuarantineList } from '../types.js';
import { Badge, ErrorNote, Section, Time, useGet, type Loaded } from '../ui.js';

export function Incidents({ selectedId }: { readonly selectedId?: string }) {
  const [status, setStatus] = useState('open');
  const incidents = useGet<IncidentList>(withQuery('/v1/incidents', { status, limit: 100 }));
  return (
    <>
      <h1>Incidents and approvals</h1>
      <section aria-labelledby="inc">
        <div class="section-head">
          <h2 id="inc">Incidents</h2>
          <label>
            Status
            <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
              <option value="">all</option>
              <option value="open">open</option>
              <option value="acknowledged">acknowledged</option>
              <option value="resolved">resolved</option>
            </select>
          </label>
        </div>
        <Section loaded={incidents}>
          {(data) => (
            <>
              <p class="muted">
                {Object.entries(data.counts)
                  .map(([k, n]) => `${n} ${k}`)
                  .join(', ') || 'No incidents.'}
              </p>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Severity</th>
                    <th scope="col">Reason</th>
                    <th scope="col">Subject</th>
                    <th scope="col">Status</th>
                    <th scope="col">Opened</th>
                  </tr>
                </thead>
                <tbody>
                  {data.incidents.map((i) => (
                    <tr
                      key={i.id}
                      data-testid="incident-row"
                      class={i.id === selectedId ? 'selected' : undefined}
                    >
                      <td>
                        <Badge kind={i.severity}>{i.severity}</Badge>
                      </td>
                      <td>
                        <a href={`#/incidents/${i.id}`}>{i.reason}</a>
                      </td>
                      <td>
                        {i.subject.kind}:{i.subject.id}
                      </td>
                      <td>{i.status}</td>
                      <td>
                        <Time value={i.openedAt} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </Section>
        {selectedId && <IncidentDetail id={selectedId} key={selectedId} onChanged={incidents.reload} />}
      </section>
      <Quarantines />
      <Approvals />
    </>
  );
}

function IncidentDetail({ id, onChanged }: { readonly id: string; readonly onChanged: () => void }) {
  const loaded = useGet<IncidentTimeline>(`/v1/incidents/${encodeURIComponent(id)}`);
  const [note, setNote] = useState('');
  const [error, setError] = useState<unknown>();
  const act = async (step: 'acknowledge' | 'resolve') => {
    setError(undefined);
    try {
      await post<{ incident: Incident }>(
        `/v1/incidents/${encodeURIComponent(id)}/${step}`,
        note.trim() ? { note: note.trim() } : {},
      );
      setNote('');
      loaded.reload();
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section class="card" aria-labelledby="incident-title">
      <Section loaded={loaded}>
        {({ incident: i, timeline }) => (
          <>
            <h3 id="incident-title">
              <Badge kind={i.severity}>{i.severity}</Badge> {i.reason}
            </h3>
            <dl class="pairs">
              <dt>Id</dt>
              <dd class="mono">{i.id}</dd>
              <dt>Status</dt>
              <dd>
                {i.status}
                {i.acknowledgedBy ? `, acknowledged by ${i.acknowledgedBy}` : ''}
                {i.resolvedBy ? `, resolved by ${i.resolvedBy}` : ''}
              </dd>
              <dt>Playbook</dt>
              <dd>{i.playbookId}</dd>
              <dt>Subject</dt>
              <dd>
                {i.subject.kind}:{i.subject.id}
              </dd>
              <dt>Actions run</dt>
              <dd>{i.actions.join(', ') || 'none'}</dd>
              {i.note && (
                <>
                  <dt>Note</dt>
                  <dd>{i.note}</dd>
                </>
              )}
            </dl>
            <h4>Timeline</h4>
            <ol class="timeline">
              <li>
                <Time value={i.openedAt} /> opened by playbook {i.playbookId}
              </li>
              {timeline.map((r) => (
                <li key={r.seq}>
                  <Time value={r.entry.time} /> {r.entry.phase} {r.entry.action} by{' '}
                  {r.entry.principalId ?? '—'}: {r.entry.decision ?? '—'} (HTTP {r.entry.status})
                  {r.entry.target ? `, ${r.entry.target}` : ''} <span class="muted">#{r.seq - 1}</span>
                </li>
              ))}
              <li>
                <Time value={i.updatedAt} /> last update ({i.status})
              </li>
            </ol>
            {i.status !== 'resolved' && (
              <div class="actions">
                <label>
                  Note (optional)
                  <input value={note} maxLength={500} onInput={(e) => setNote(e.currentTarget.value)} />
                </label>
                {i.status === 'open' && (
                  <button type="button" data-testid="acknowledge" onClick={() => void act('acknowledge')}>
                    Acknowledge
                  </button>
                )}
                <button type="button" data-testid="resolve" onClick={() => void act('resolve')}>
                  Resolve
                </button>
              </div>
            )}
            {error !== undefined && <ErrorNote error={error} />}
          </>
        )}
      </Section>
    </section>
  );
}

interface ReleaseRow {
  readonly kind: string;
  readonly id: string;
  readonly what: string;
  readonly reason?: string;
  readonly approvedBy?: readonly string[];
}

function releaseRows(q: QuarantineList): ReleaseRow[] {
  const pending = new Map(q.pendingReleases.map((p) => [`${p.target.kind}:${p.target.id}`, p.approvedBy]));
  const rows: ReleaseRow[] = [
    ...q.quarantines.map((x) => ({
      kind: x.target.kind,
      id: x.target.id,
      what: 'quarantine',
      reason: x.reason,
    })),
    ...q.underApproval.map((x) => ({
      kind: 'approval',
      id: x.target.id,
      what: 'under approval',
      reason: x.reason,
    })),
    ...q.disabledRuntimes.map((x) => ({
      kind: 'runtime',
      id: x.target.id,
      what: 'disabled runtime',
      reason: x.reason,
    })),
  ];
  return rows.map((r) => ({ ...r, approvedBy: pending.get(`${r.kind}:${r.id}`) }));
}

function Quarantines() {
  const loaded = useGet<QuarantineList>('/v1/quarantines');
  return (
    <section aria-labelledby="quar">
      <h2 id="quar">Quarantines</h2>
      <Section loaded={loaded}>
        {(data) => {
          const rows = releaseRows(data);
          if (rows.length === 0) return <p class="muted">Nothing is quarantined.</p>;
          return (
            <table>
              <thead>
                <tr>
                  <th scope="col">Kind</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Release</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <QuarantineRow key={`${r.kind}:${r.id}`} row={r} loaded={loaded} />
                ))}
              </tbody>
            </table>
          );
        }}
      </Section>
    </section>
  );
}

function QuarantineRow({
  row,
  loaded,
}: {
  readonly row: ReleaseRow;
  readonly loaded: Loaded<QuarantineList>;
}) {
  const [status, setStatus] = useState<string | undefined>(
    row.approvedBy?.length
      ? `awaiting a second administrator (approved by ${row.approvedBy.join(', ')})`
      : undefined,
  );
  const [busy, setBusy] = useState(false);
  const release = async () => {
    setBusy(true);
    try {
      const response = await post<{ status: string; approvedBy: string[] }>('/v1/quarantines/release', {
        kind: row.kind,
        id: row.id,
      });
      if (response.status === 202) setStatus('awaiting a second administrator');
      else {
        setStatus('released');
        loaded.reload();
      }
    } catch (err) {
      if (err instanceof ApiError && err.code === 'four_eyes_required') {
        setStatus('a second, different administrator must approve this release');
      } else setStatus(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <tr data-testid="quarantine-row">
      <td>{row.what}</td>
      <td>
        {row.kind}:{row.id}
      </td>
      <td>{row.reason ?? '—'}</td>
      <td>
        <button type="button" data-testid="release" disabled={busy} onClick={() => void release()}>
          Approve release
          <span class="visually-hidden">
            {' '}
            of {row.kind} {row.id}
          </span>
        </button>{' '}
        <span data-testid="release-status" aria-live="polite">
          {status ?? ''}
        </span>
      </td>
    </tr>
  );
}

function Approvals() {
  const [status, setStatus] = useState('pending');
  const loaded = useGet<{ approvals: Approval[] }>(withQuery('/v1/approvals', { status, limit: 100 }));
  return (
    <section aria-labelledby="appr">
      <div class="section-head">
        <h2 id="appr">Held tool calls</h2>
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">all</option>
            {['pending', 'approved', 'denied', 'released', 'expired'].map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </div>
      <Section loaded={loaded}>
        {(data) =>
          data.approvals.length === 0 ? (
            <p class="muted">No held tool calls.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Tool</th>
                  <th scope="col">Requested by</th>
                  <th scope="col">Model</th>
                  <th scope="col">Created / expires</th>
                  <th scope="col">Status</th>
                  <th scope="col">Decide</th>
                </tr>
              </thead>
              <tbody>
                {data.approvals.map((a) => (
                  <ApprovalRow key={a.id} approval={a} onChanged={loaded.reload} />
                ))}
              </tbody>
            </table>
          )
        }
      </Section>
    </section>
  );
}

function ApprovalRow({
  approval: a,
  onChanged,
}: {
  readonly approval: Approval;
  readonly onChanged: () => void;
}) {
  const [message, setMessage] = useState<string | undefined>();
  const decide = async (verdict: 'approve' | 'deny') => {
    try {
      await post(`/v1/approvals/${encodeURIComponent(a.id)}/${verdict}`, {});
      setMessage(verdict === 'approve' ? 'approved' : 'denied');
      onChanged();
    } catch (err) {
      setMessage(describeError(err));
    }
  };
  return (
    <tr data-testid="approval-row">
      <td class="mono">{a.tool}</td>
      <td>{a.requestedBy}</td>
      <td>{a.model ?? '—'}</td>
      <td>
        <Time value={a.createdAt} /> / <Time value={a.expiresAt} />
      </td>
      <td>
        {a.status}
        {a.decidedBy ? ` by ${a.decidedBy}` : ''}
      </td>
      <td>
        {a.status === 'pending' && (
          <>
            <button type="button" data-testid="approve" onClick={() => void decide('approve')}>
              Approve
              <span class="visually-hidden">
                {' '}
                {a.tool} for {a.requestedBy}
              </span>
            </button>{' '}
            <button type="button" class="danger" data-testid="deny" onClick={() => void decide('deny')}>
              Deny
              <span class="visually-hidden">
                {' '}
                {a.tool} for {a.requestedBy}
              </span>
            </button>
          </>
        )}
        {message && (
          <span role="status" class="muted">
            {' '}
            {message}
          </span>
        )}
      </td>
    </tr>
  );
}
