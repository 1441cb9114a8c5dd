/**
 * The users section of the admin sidebar: list, create, remove.
 */
import * as React from 'react';

import { IUser } from '../../tokens';
import {
  confirmRemoval,
  FormError,
  ISectionProps,
  PagedSection,
  RowButton
} from './components';
import { usePage } from './hooks';

export function UsersSection(
  props: ISectionProps & { onShowGrants: (user: string) => void }
): JSX.Element {
  const { api, trans, version, act, onLoadError, onShowGrants } = props;
  const list = usePage(request => api.users(request), {
    filterKey: '',
    version,
    onError: error => onLoadError(trans.__('Could not load the users'), error)
  });
  const [name, setName] = React.useState('');
  const [error, setError] = React.useState('');

  const create = async (event: React.FormEvent) => {
    event.preventDefault();
    const trimmed = name.trim();
    if (!trimmed) {
      setError(trans.__('Enter a user name.'));
      return;
    }
    setError('');
    if (
      await act(trans.__('Could not create the user %1', trimmed), () =>
        api.createUser(trimmed)
      )
    ) {
      setName('');
    }
  };

  const remove = async (user: IUser) => {
    const sure = await confirmRemoval(
      trans.__('Remove %1?', user.name),
      trans._n(
        'The user and their grant are removed.',
        'The user and their %1 grants are removed.',
        user.grants
      ),
      trans
    );
    if (sure) {
      await act(trans.__('Could not remove the user %1', user.name), () =>
        api.removeUser(user.name)
      );
    }
  };

  return (
    <PagedSection
      className="jp-RemoteApp-users"
      title={trans.__('Users')}
      what={trans.__('users')}
      empty={trans.__('No users yet.')}
      list={list}
      trans={trans}
    >
      <ul className="jp-RemoteApp-list">
        {list.page?.items.map(user => (
          <li key={user.name} className="jp-RemoteApp-item">
            <div className="jp-RemoteApp-itemText">
              <div className="jp-RemoteApp-itemName" title={user.name}>
                {user.name}
              </div>
              <button
                type="button"
                className="jp-RemoteApp-link jp-RemoteApp-itemDetail"
                title={trans.__('Show the grants of %1', user.name)}
                aria-label={trans.__('Show the grants of %1', user.name)}
                onClick={() => onShowGrants(user.name)}
              >
                {trans._n('%1 grant', '%1 grants', user.grants)}
              </button>
            </div>
            <RowButton
              text={trans.__('Remove')}
              label={trans.__('Remove the user %1', user.name)}
              warn
              onClick={() => void remove(user)}
            />
          </li>
        ))}
      </ul>
      <form className="jp-RemoteApp-form jp-RemoteApp-row" onSubmit={create}>
        <input
          className="jp-mod-styled jp-RemoteApp-grow"
          aria-label={trans.__('New user name')}
          placeholder={trans.__('new user name')}
          value={name}
          onChange={e => setName(e.target.value)}
        />
        <button
          type="submit"
          className="jp-mod-styled jp-mod-accept jp-RemoteApp-button"
          title={trans.__('Create the user')}
        >
          {trans.__('Create')}
        </button>
      </form>
      <FormError error={error} />
    </PagedSection>
  );
}
