// Runtimes (attestation state) and keys (versions, rotation behind a confirm dialog).
import { useState } from 'preact/hooks';
import { describeError, post } from '../api.js';
import type { KeyInfo, Runtime } from '../types.js';
import { ConfirmDialog, List, Section, Time, useGet } from '../ui.js';
import { AttestationBadge } from './overview.js';

export function Runtimes() {
  const runtimes = useGet<{ runtimes: Runtime[] }>('/v1/runtimes');
  const keys = useGet<{ provider: string; keys: KeyInfo[] }>('/v1/keys');
  const [rotating, setRotating] = useState<string | undefined>();
  const [shredding, setShredding] = useState<{ name: string; version: number } | undefined>();
  const [message, setMessage] = useState<string | undefined>();

  const rotate = async (name: string) => {
    setMessage(`Rotating ${name}…`);
    try {
      const { body } = await post<{ key: KeyInfo }>(`/v1/keys/${encodeURIComponent(name)}/rotate`, {});
      setMessage(`${name} rotated: primary version ${body.key.primaryVersion}`);
      keys.reload();
    } catch (err) {
      setMessage(`${name}: ${describeError(err)}`);
    }
  };

  const shred = async ({ name, version }: { name: string; version: number }) => {
    setMessage(`Destroying ${name} version ${version}…`);
    try {
      await post<{ key: KeyInfo }>(`/v1/keys/${encodeURIComponent(name)}/versions/${version}/destroy`, {});
      setMessage(`${name} version ${version} destroyed: what only it protected is unreadable now`);
      keys.reload();
    } catch (err) {
      setMessage(`${name} version ${version}: ${describeError(err)}`);
    }
  };

  return (
    <>
      <h1>Runtimes and keys</h1>
      <section aria-labelledby="rts">
        <h2 id="rts">Model runtimes</h2>
        <Section loaded={runtimes}>
          {(data) => (
            <table>
              <thead>
                <tr>
                  <th scope="col">Runtime</th>
                  <th scope="col">State</th>
                  <th scope="col">Evidence</th>
                  <th scope="col">Measurement</th>
                  <th scope="col">Verified / expires</th>
                  <th scope="col">Freshness</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {data.runtimes.map((r) => (
                  <tr key={r.id} data-testid="runtime-row">
                    <td>
                      <strong>{r.id}</strong>
                      <br />
                      <span class="muted">
                        {r.baseUrl}
                        {r.region ? ` (${r.region})` : ''}
                      </span>
                    </td>
                    <td>
                      <AttestationBadge runtime={r} />
                      {r.eligible === false && <span class="bad"> not eligible</span>}
                    </td>
                    <td>{r.attestation}</td>
                    <td class="mono">
                      {r.measurement ?? '—'}
                      {r.approvedMeasurements && (
                        <div class="muted">
                          approved: <List items={r.approvedMeasurements} />
                        </div>
                      )}
                    </td>
                    <td>
                      <Time value={r.verifiedAt} /> / <Time value={r.expiresAt} />
                    </td>
                    <td>{r.freshnessMs !== undefined ? `${Math.round(r.freshnessMs / 1000)} s` : '—'}</td>
                    <td>{r.reason ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
      </section>
      <section aria-labelledby="keys">
        <h2 id="keys">Keys</h2>
        {message && (
          <p role="status" data-testid="rotate-status">
            {message}
          </p>
        )}
        <Section loaded={keys}>
          {(data) => (
            <>
              <p class="muted">Provider: {data.provider}</p>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Key</th>
                    <th scope="col">Algorithm</th>
                    <th scope="col">Versions</th>
                    <th scope="col">
                      <span class="visually-hidden">Rotate</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.keys.map((k) => (
                    <tr key={k.name} data-testid="key-row">
                      <td class="mono">{k.name}</td>
                      <td>{k.algorithm}</td>
                      <td>
                        <ul class="plain">
                          {k.versions.map((v) => (
                            <li key={v.version}>
                              v{v.version} {v.state}
                              {v.version === k.primaryVersion ? ' (primary)' : ''},{' '}
                              <Time value={v.createdAt} />
                              {v.version !== k.primaryVersion && v.state !== 'destroyed' && (
                                <>
                                  {' '}
                                  <button
                                    type="button"
                                    class="link"
                                    data-testid="shred"
                                    onClick={() => setShredding({ name: k.name, version: v.version })}
                                  >
                                    Shred
                                    <span class="visually-hidden">
                                      {' '}
                                      {k.name} version {v.version}
                                    </span>
                                  </button>
                                </>
                              )}
                            </li>
                          ))}
                        </ul>
                      </td>
                      <td>
                        <button type="button" data-testid="rotate" onClick={() => setRotating(k.name)}>
                          Rotate<span class="visually-hidden"> {k.name}</span>
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </Section>
      </section>
      {rotating && (
        <ConfirmDialog
          title={`Rotate ${rotating}?`}
          confirmLabel="Rotate"
          onClose={(confirmed) => {
            const name = rotating;
            setRotating(undefined);
            if (confirmed) void rotate(name);
          }}
        >
          <p>
            A new primary version of <strong>{rotating}</strong> is created; older versions stay for verifying
            and decrypting. The rotation is audited.
          </p>
        </ConfirmDialog>
      )}
      {shredding && (
        <ConfirmDialog
          title={`Destroy ${shredding.name} version ${shredding.version}?`}
          confirmLabel="Destroy for good"
          onClose={(confirmed) => {
            const target = shredding;
            setShredding(undefined);
            if (confirmed) void shred(target);
          }}
        >
          <p>
            Crypto-shredding: data encrypted only under this version can never be read again. This cannot be
            undone, and it is audited.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
