/**
 * The statistics line of the admin sidebar.
 */
import * as React from 'react';

import { formatCount } from '../../paging';
import { IStats } from '../../tokens';
import { ISectionProps } from './components';

export function StatsSection(props: ISectionProps): JSX.Element {
  const { api, trans, version, onLoadError } = props;
  const [stats, setStats] = React.useState<IStats | null>(null);
  React.useEffect(() => {
    let current = true;
    api.stats().then(
      value => current && setStats(value),
      error =>
        current && onLoadError(trans.__('Could not load the statistics'), error)
    );
    return () => {
      current = false;
    };
  }, [api, version, onLoadError, trans]);
  return (
    <p className="jp-RemoteApp-stats">
      {stats
        ? trans.__(
            '%1 users · %2 applications · %3 grants · %4 of %5 containers running',
            formatCount(stats.users),
            formatCount(stats.applications),
            formatCount(stats.grants),
            formatCount(stats.containers.running),
            formatCount(stats.containers.total)
          )
        : trans.__('Loading…')}
    </p>
  );
}
