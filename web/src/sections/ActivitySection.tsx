import { useEffect, useState } from 'react';
import { ApiError, type Api, type ResultOf } from '../graphql';
import { ACTIVITY, ACTIVITY_LIVE } from '../queries';
import { formatDateTime } from '../format';
import { Badge, ErrorNote, Loading, Section } from '../ui';

type Entry = ResultOf<typeof ACTIVITY>['workspace']['activity']['nodes'][number];

export function ActivitySection({
  api,
  version,
  onLive,
  onAccessEnded,
}: {
  api: Api;
  version: number;
  onLive?: () => void;
  /** The gateway ended the live stream because this sign-in lost its access (signed out,
   * revoked, expired, deactivated, no longer an admin). */
  onAccessEnded?: () => void;
}) {
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [live, setLive] = useState(false);

  useEffect(() => {
    let active = true;
    api
      .request(ACTIVITY, { first: 20 })
      .then((d) => {
        if (!active) return;
        setEntries(d.workspace.activity.nodes);
        setNext(d.workspace.activity.pageInfo.hasNextPage ? d.workspace.activity.pageInfo.endCursor : null);
      })
      .catch((e) => active && setError(e));
    return () => {
      active = false;
    };
  }, [api, version]);

  useEffect(() => {
    const stop = api.subscribe(
      ACTIVITY_LIVE,
      (d) => {
        setLive(true);
        onLive?.();
        setEntries((list) => {
          const current = list ?? [];
          return current.some((e) => e.id === d.activity.id) ? current : [d.activity, ...current];
        });
      },
      (e) => {
        if (e instanceof ApiError && (e.code === 'UNAUTHENTICATED' || e.code === 'FORBIDDEN')) {
          // The stream has ended for good: no more entries will come on it.
          setLive(false);
          onAccessEnded?.();
        }
        setError(e);
      },
    );
    setLive(true);
    return stop;
  }, [api, onLive, onAccessEnded]);

  async function more() {
    if (!next) return;
    try {
      const d = await api.request(ACTIVITY, { first: 50, after: next });
      setEntries((list) => [...(list ?? []), ...d.workspace.activity.nodes]);
      setNext(d.workspace.activity.pageInfo.hasNextPage ? d.workspace.activity.pageInfo.endCursor : null);
    } catch (e) {
      setError(e);
    }
  }

  return (
    <Section id="activity" title="Provisioning activity" status={live ? <Badge tone="ok">Live</Badge> : undefined}>
      <ErrorNote error={error} />
      {!entries && !error && <Loading what="activity" />}
      {entries && entries.length === 0 && <p className="muted">Nothing yet: changes and every SCIM request that changes something or fails appear here as they happen.</p>}
      {entries && entries.length > 0 && (
        <ol className="activity" aria-label="Activity, newest first">
          {entries.map((e) => (
            <li key={e.id} className={e.succeeded ? undefined : 'failed'}>
              <div className="activity-head">
                <time dateTime={e.at}>{formatDateTime(e.at)}</time>
                {e.succeeded ? <Badge tone="ok">{e.status}</Badge> : <Badge tone="bad">Failed {e.status}</Badge>}
                <span className="muted">{e.actor}</span>
                {e.occurrences > 1 && <Badge tone="warn">{`×${e.occurrences} this minute`}</Badge>}
                {e.client && <span className="muted small">from {e.client}</span>}
              </div>
              <p>{e.summary}</p>
              {e.method && (
                <p className="muted small">
                  <code>
                    {e.method} {e.path}
                  </code>
                </p>
              )}
            </li>
          ))}
        </ol>
      )}
      {next && (
        <button type="button" className="secondary" onClick={more}>
          Show older
        </button>
      )}
    </Section>
  );
}
