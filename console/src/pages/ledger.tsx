// Audit ledger: search, results, an entry's detail and its inclusion proof verified in the browser.
import { useEffect, useState } from 'preact/hooks';
import { describeError, get, getText, withQuery } from '../api.js';
import type { LedgerEntries, LedgerRow } from '../types.js';
import { ErrorNote, List, Time } from '../ui.js';
import { type Subtle } from '../verify/bytes.js';
import { verifyEntryProof, type InclusionProofResponse } from '../verify/entry.js';
import { parseVerifierKey, type VerifierKey } from '../verify/note.js';

const KEY_STORAGE = 'ztgate.console.verifierKey';
const subtle = (): Subtle => globalThis.crypto.subtle as unknown as Subtle;

interface Filters {
  principal: string;
  since: string;
  until: string;
  decision: string;
  model: string;
  dataClass: string;
}

const EMPTY: Filters = { principal: '', since: '', until: '', decision: '', model: '', dataClass: '' };

/** A datetime-local value (local time) as the API's UTC `toISOString` form. */
function isoOf(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export function Ledger() {
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [rows, setRows] = useState<LedgerRow[] | undefined>();
  const [next, setNext] = useState<number | null>(null);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [selected, setSelected] = useState<LedgerRow | undefined>();

  const search = async (afterSeq?: number) => {
    setBusy(true);
    setError(undefined);
    try {
      const path = withQuery('/v1/ledger/entries', {
        principal: filters.principal.trim(),
        since: isoOf(filters.since),
        until: isoOf(filters.until),
        decision: filters.decision,
        model: filters.model.trim(),
        dataClass: filters.dataClass.trim(),
        afterSeq,
        limit: 100,
      });
      const data = await get<LedgerEntries>(path);
      setRows((old) => (afterSeq !== undefined && old ? [...old, ...data.entries] : [...data.entries]));
      setNext(data.entries.length === 100 ? data.nextAfterSeq : null);
      if (afterSeq === undefined) setSelected(undefined);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    void search();
  }, []);

  const field = (name: keyof Filters, label: string, type: 'text' | 'datetime-local' = 'text') => (
    <label>
      {label}
      <input
        type={type as 'text'}
        name={name}
        value={filters[name]}
        onInput={(e) => setFilters({ ...filters, [name]: e.currentTarget.value })}
      />
    </label>
  );

  return (
    <>
      <h1>Audit ledger</h1>
      <VerifierKeyField />
      <form
        class="search"
        role="search"
        aria-label="Ledger entries"
        onSubmit={(e) => {
          e.preventDefault();
          void search();
        }}
      >
        {field('principal', 'Principal')}
        {field('since', 'From', 'datetime-local')}
        {field('until', 'Until', 'datetime-local')}
        <label>
          Decision
          <select
            name="decision"
            value={filters.decision}
            onChange={(e) => setFilters({ ...filters, decision: e.currentTarget.value })}
          >
            <option value="">any</option>
            <option value="allow">allow</option>
            <option value="deny">deny</option>
          </select>
        </label>
        {field('model', 'Model')}
        {field('dataClass', 'Data class')}
        <button type="submit" data-testid="ledger-search" disabled={busy}>
          Search
        </button>
      </form>
      {error !== undefined && <ErrorNote error={error} />}
      {rows && (
        <div class="split">
          <div class="results">
            <p class="muted" aria-live="polite">
              {rows.length} {rows.length === 1 ? 'entry' : 'entries'}
            </p>
            <table>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Time</th>
                  <th scope="col">Principal</th>
                  <th scope="col">Model</th>
                  <th scope="col">Decision</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span class="visually-hidden">Details</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr
                    key={row.seq}
                    data-testid="ledger-row"
                    class={selected?.seq === row.seq ? 'selected' : undefined}
                  >
                    <td>{row.index}</td>
                    <td>
                      <Time value={row.entry.time} />
                    </td>
                    <td>{row.entry.principalId ?? '—'}</td>
                    <td>{row.entry.modelId ?? '—'}</td>
                    <td>{row.entry.decision ?? row.entry.phase}</td>
                    <td>{row.entry.status}</td>
                    <td>
                      <button type="button" class="link" onClick={() => setSelected(row)}>
                        Details<span class="visually-hidden"> of entry {row.index}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {next !== null && (
              <button type="button" disabled={busy} onClick={() => void search(next)}>
                Load more
              </button>
            )}
          </div>
          {selected && <EntryDetail row={selected} key={selected.seq} />}
        </div>
      )}
    </>
  );
}

/** The pinned verifier key, kept in localStorage; never taken from the server. */
function usePinnedKey(): [string, (text: string) => void] {
  const [text, setText] = useState(() => localStorage.getItem(KEY_STORAGE) ?? '');
  useEffect(() => {
    const onStorage = (e: StorageEvent) => e.key === KEY_STORAGE && setText(e.newValue ?? '');
    addEventListener('storage', onStorage);
    addEventListener('ztgate-key', onStorage as EventListener);
    return () => {
      removeEventListener('storage', onStorage);
      removeEventListener('ztgate-key', onStorage as EventListener);
    };
  }, []);
  const save = (value: string) => {
    localStorage.setItem(KEY_STORAGE, value);
    setText(value);
    dispatchEvent(new StorageEvent('ztgate-key', { key: KEY_STORAGE, newValue: value }));
  };
  return [text, save];
}

function useParsedKey(text: string): { key?: VerifierKey; error?: string } {
  const [state, setState] = useState<{ key?: VerifierKey; error?: string }>({});
  useEffect(() => {
    if (!text.trim()) {
      setState({});
      return;
    }
    let live = true;
    parseVerifierKey(subtle(), text).then(
      (key) => live && setState({ key }),
      (err: unknown) => live && setState({ error: describeError(err) }),
    );
    return () => {
      live = false;
    };
  }, [text]);
  return state;
}

function VerifierKeyField() {
  const [text, save] = usePinnedKey();
  const { key, error } = useParsedKey(text);
  return (
    <section class="card" aria-labelledby="vkey-title">
      <h2 id="vkey-title">Ledger verifier key</h2>
      <label for="verifier-key">
        Verifier key (from <code>ztgate audit key</code>; stays in this browser)
      </label>
      <input
        id="verifier-key"
        data-testid="verifier-key"
        class="mono wide"
        spellcheck={false}
        autocomplete="off"
        value={text}
        onChange={(e) => save(e.currentTarget.value.trim())}
        aria-describedby="vkey-status"
      />
      <p id="vkey-status" class={error ? 'bad' : 'muted'}>
        {error
          ? `Not a usable key: ${error}`
          : key
            ? `Key ${key.name}+${key.keyHash.toString(16).padStart(8, '0')}, SHA-256 fingerprint ${groups(key.fingerprint)}`
            : 'No key pinned: proofs cannot be verified.'}
      </p>
    </section>
  );
}

function groups(hex: string): string {
  return hex.match(/.{1,8}/g)?.join(' ') ?? hex;
}

type ProofState =
  { state: 'idle' | 'checking' } | { state: 'verified'; size: number } | { state: 'failed'; reason: string };

function EntryDetail({ row }: { readonly row: LedgerRow }) {
  const [text] = usePinnedKey();
  const { key, error: keyError } = useParsedKey(text);
  const [proof, setProof] = useState<ProofState>({ state: 'idle' });
  const e = row.entry;

  const verify = async () => {
    if (!key) {
      setProof({
        state: 'failed',
        reason: keyError ? `bad verifier key: ${keyError}` : 'no verifier key pinned',
      });
      return;
    }
    setProof({ state: 'checking' });
    try {
      const note = await getText('/v1/ledger/checkpoint');
      const size = /^[^\n]*\n(\d+)\n/.exec(note)?.[1];
      if (size === undefined) throw new Error('the checkpoint has no size line');
      if (row.index >= Number(size)) {
        setProof({
          state: 'failed',
          reason: `entry ${row.index} is not in the latest checkpoint (size ${size}) yet`,
        });
        return;
      }
      const response = await get<InclusionProofResponse>(
        withQuery('/v1/ledger/proof/inclusion', { index: row.index, size }),
      );
      const result = await verifyEntryProof(subtle(), key, note, response, row);
      setProof(
        result.ok
          ? { state: 'verified', size: result.checkpoint.size }
          : { state: 'failed', reason: result.reason },
      );
    } catch (err) {
      setProof({ state: 'failed', reason: describeError(err) });
    }
  };

  useEffect(() => {
    if (key) void verify();
  }, [key]);

  return (
    <section class="card detail" aria-labelledby="entry-title">
      <h2 id="entry-title">Entry {row.index}</h2>
      <dl class="pairs">
        <dt>Request</dt>
        <dd class="mono">{e.requestId}</dd>
        <dt>Time</dt>
        <dd>
          <Time value={e.time} /> (stored <Time value={row.storedAt} />)
        </dd>
        <dt>Phase / action</dt>
        <dd>
          {e.phase} / {e.action}
        </dd>
        <dt>Principal</dt>
        <dd>{e.principalId ?? '—'}</dd>
        <dt>Decision</dt>
        <dd>
          {e.decision ?? '—'} (HTTP {e.status}
          {e.errorCode ? `, ${e.errorCode}` : ''})
        </dd>
        <dt>Determining policies</dt>
        <dd>
          <List items={e.determiningPolicies} />
        </dd>
        <dt>Obligations</dt>
        <dd>
          <List items={e.obligations} />
        </dd>
        <dt>Findings</dt>
        <dd>
          <List items={Object.entries(e.findings ?? {}).map(([type, n]) => `${type} × ${n}`)} />
        </dd>
        <dt>Data class</dt>
        <dd>{e.dataClass ?? '—'}</dd>
        <dt>Model / runtime</dt>
        <dd>
          {e.modelId ?? '—'} / {e.runtimeId ?? '—'}
        </dd>
        <dt>Attestation</dt>
        <dd class="mono">{e.attestationId ?? 'none'}</dd>
        {e.target !== undefined && (
          <>
            <dt>Target</dt>
            <dd>{e.target}</dd>
          </>
        )}
      </dl>
      <h3>Inclusion proof</h3>
      <p class={`proof proof-${proof.state}`} aria-live="polite">
        <span aria-hidden="true">
          {proof.state === 'verified' ? '✓ ' : proof.state === 'failed' ? '✗ ' : ''}
        </span>
        <span data-testid="proof-status">
          {proof.state === 'verified'
            ? 'verified'
            : proof.state === 'failed'
              ? `failed: ${proof.reason}`
              : proof.state === 'checking'
                ? 'checking…'
                : 'not checked'}
        </span>
        {proof.state === 'verified' && (
          <span class="muted"> — in the checkpoint of {proof.size} entries signed by the pinned key</span>
        )}
      </p>
      <button type="button" onClick={() => void verify()} disabled={proof.state === 'checking'}>
        Verify inclusion
      </button>
    </section>
  );
}
