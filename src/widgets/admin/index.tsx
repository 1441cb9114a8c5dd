/**
 * The admin sidebar: statistics, users, applications, grants, all containers
 * (one module per section; ./components and ./hooks are what they share).
 *
 * Shown only to admins (`GET me` → admin); the server checks the scope on
 * every call anyway. The lists page through the server (`?offset=&limit=`),
 * so an installation with 10,000 users and 100,000 grants loads 50 at a time;
 * grants can be filtered by image and by user or group. All server text is
 * rendered as React text; server errors are notifications (one notifier).
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { RemoteAppsRestClient } from '../../api';
import { notifyError } from '../../notify';
import { IImageInfo, IRemoteApps } from '../../tokens';
import { ApplicationsSection } from './applications';
import { ISectionProps } from './components';
import { ContainersSection } from './containers';
import { IGrantFilterForm } from './grantform';
import { GrantsSection } from './grants';
import { StatsSection } from './stats';
import { UsersSection } from './users';

export {
  FILTER_DEBOUNCE,
  grantSelectors,
  IGrantFilterForm,
  validateGrant
} from './grantform';

export interface IAdminProps {
  api: RemoteAppsRestClient;
  model: IRemoteApps;
  trans: TranslationBundle;
  /** To open a container in a Lab tab (`remoteapp:open`). */
  commands: CommandRegistry;
}

function AdminContent(props: IAdminProps): JSX.Element {
  const { api, model, trans, commands } = props;
  const [version, setVersion] = React.useState(0);
  const [images, setImages] = React.useState<IImageInfo[]>([]);
  const [grantFilter, setGrantFilter] = React.useState<IGrantFilterForm>({
    image: '',
    kind: 'user',
    name: ''
  });
  const grantsRef = React.useRef<HTMLDetailsElement>(null);

  const onLoadError = React.useCallback(
    (summary: string, error: unknown) => notifyError(summary, error, trans),
    [trans]
  );

  // The docker images (bounded by the host, not by the accounting): the
  // register form, the grant form and the grant filter choose from them.
  React.useEffect(() => {
    let current = true;
    api.images().then(
      page => current && setImages(page.items),
      error =>
        current && onLoadError(trans.__('Could not load the images'), error)
    );
    return () => {
      current = false;
    };
  }, [api, version, onLoadError, trans]);

  const act = React.useCallback(
    async (summary: string, action: () => Promise<unknown>) => {
      try {
        await action();
      } catch (error) {
        notifyError(summary, error, trans);
        return false;
      }
      setVersion(v => v + 1);
      // Grants and apps change what the user may start: update the launcher.
      void model.refresh();
      return true;
    },
    [model, trans]
  );

  const showGrantsOf = (user: string) => {
    setGrantFilter({ image: '', kind: 'user', name: user });
    const section = grantsRef.current;
    if (section) {
      section.open = true;
      section.scrollIntoView?.({ block: 'start' });
    }
  };

  const section: ISectionProps = { api, trans, version, act, onLoadError };
  const registered = images.filter(info => info.registered);

  return (
    <div className="jp-RemoteApp-sidebar jp-RemoteApp-admin">
      <div className="jp-RemoteApp-header">
        <h2>{trans.__('Remote Apps Admin')}</h2>
        <button
          type="button"
          className="jp-mod-styled jp-RemoteApp-button"
          title={trans.__('Reload every list')}
          onClick={() => setVersion(v => v + 1)}
        >
          {trans.__('Refresh')}
        </button>
      </div>
      <StatsSection {...section} />
      <UsersSection {...section} onShowGrants={showGrantsOf} />
      <ApplicationsSection {...section} images={images} />
      <GrantsSection
        {...section}
        model={model}
        registered={registered}
        filter={grantFilter}
        setFilter={setGrantFilter}
        sectionRef={grantsRef}
      />
      <ContainersSection {...section} commands={commands} />
    </div>
  );
}

/**
 * The admin sidebar widget.
 */
export class RemoteAppsAdminPanel extends ReactWidget {
  constructor(private _props: IAdminProps) {
    super();
    this.addClass('jp-RemoteApp-panel');
  }

  render(): JSX.Element {
    return <AdminContent {...this._props} />;
  }
}
