/**
 * The containers of all users in the admin sidebar: open one in a Lab tab
 * (the admin's ticket works for any container), stop one.
 */
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { confirmStop } from '../../dialogs';
import { CommandIDs, IContainer } from '../../tokens';
import { ISectionProps, PagedSection, RowButton } from './components';
import { usePage } from './hooks';

export function ContainersSection(
  props: ISectionProps & { commands: CommandRegistry }
): JSX.Element {
  const { api, trans, version, act, onLoadError, commands } = props;
  const list = usePage(request => api.adminContainers(request), {
    filterKey: '',
    version,
    onError: error =>
      onLoadError(trans.__('Could not load the containers'), error)
  });

  const open = (container: IContainer) =>
    commands
      .execute(CommandIDs.open, {
        url_id: container.url_id,
        owner: container.user,
        container: container as any
      })
      .catch(error =>
        onLoadError(trans.__('Could not open %1', container.ui_name), error)
      );

  const stop = async (container: IContainer) => {
    const name = trans.__('%1 of %2', container.ui_name, container.user);
    if ((await confirmStop(name, trans)) === 'stop') {
      await act(trans.__('Could not stop %1', name), () =>
        api.adminStop(container.url_id)
      );
    }
  };

  return (
    <PagedSection
      className="jp-RemoteApp-allContainers"
      title={trans.__('Containers (all users)')}
      what={trans.__('containers')}
      empty={trans.__('No application is running.')}
      list={list}
      trans={trans}
    >
      <ul className="jp-RemoteApp-list">
        {list.page?.items.map(container => (
          <li
            key={container.url_id}
            className="jp-RemoteApp-item"
            data-url-id={container.url_id}
          >
            <div className="jp-RemoteApp-itemText">
              <div className="jp-RemoteApp-itemName">{container.ui_name}</div>
              <div className="jp-RemoteApp-itemDetail">
                {trans.__('%1 · %2', container.user, container.status)}
              </div>
            </div>
            {container.status === 'running' && (
              <RowButton
                text={trans.__('Open')}
                label={trans.__(
                  'Open %1 of %2',
                  container.ui_name,
                  container.user
                )}
                onClick={() => void open(container)}
              />
            )}
            <RowButton
              text={trans.__('Stop')}
              label={trans.__(
                'Stop %1 of %2',
                container.ui_name,
                container.user
              )}
              warn
              onClick={() => void stop(container)}
            />
          </li>
        ))}
      </ul>
    </PagedSection>
  );
}
