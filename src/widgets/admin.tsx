/**
 * The admin sidebar: users, applications, grants, all containers, stats.
 *
 * Shown only to admins (`GET me` → admin); the server checks the scope on
 * every call anyway. All server text is rendered as React text.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { RemoteAppAPI } from '../api';
import { policySummary } from '../policy';
import {
  IApplicationRecord,
  IContainer,
  IGrant,
  IGrantRequest,
  IImageInfo,
  IRemoteApps,
  IStats,
  IUser
} from '../tokens';

/** `SOURCE:TARGET:ro|rw` with an absolute target. */
const VOLUME_PATTERN = /^[^:]+:\/[^:]*:(ro|rw)$/;

/**
 * Check the grant form; returns an error message or ''.
 */
export function validateGrant(
  request: IGrantRequest,
  trans: TranslationBundle
): string {
  if (!request.image) {
    return trans.__('Choose an application.');
  }
  const target = request.user ?? request.group ?? '';
  if (!target.trim()) {
    return request.group !== undefined
      ? trans.__('Enter a group name.')
      : trans.__('Enter a user name.');
  }
  const volume = request.policy?.volume;
  if (volume && !VOLUME_PATTERN.test(volume)) {
    return trans.__(
      'The volume must be SOURCE:TARGET:ro or SOURCE:TARGET:rw, with an absolute TARGET.'
    );
  }
  return '';
}

interface IAdminData {
  users: IUser[];
  applications: IApplicationRecord[];
  grants: IGrant[];
  containers: IContainer[];
  images: IImageInfo[];
  stats: IStats | null;
}

const EMPTY: IAdminData = {
  users: [],
  applications: [],
  grants: [],
  containers: [],
  images: [],
  stats: null
};

interface IAdminProps {
  api: RemoteAppAPI;
  model: IRemoteApps;
  trans: TranslationBundle;
}

/** A form's error line. */
function FormError(props: { error: string }): JSX.Element | null {
  return props.error ? (
    <div className="jp-RemoteApp-error jp-RemoteApp-formError" role="alert">
      {props.error}
    </div>
  ) : null;
}

function AdminContent(props: IAdminProps): JSX.Element {
  const { api, model, trans } = props;
  const [data, setData] = React.useState<IAdminData>(EMPTY);
  const [loadError, setLoadError] = React.useState('');
  const [userName, setUserName] = React.useState('');
  const [userError, setUserError] = React.useState('');
  const [image, setImage] = React.useState('');
  const [appError, setAppError] = React.useState('');
  const [grantImage, setGrantImage] = React.useState('');
  const [targetKind, setTargetKind] = React.useState<'user' | 'group'>('user');
  const [target, setTarget] = React.useState(model.me?.name ?? '');
  // `me` may arrive after the first render: prefill the grantee once it is known.
  React.useEffect(() => {
    const prefill = () => {
      if (model.me?.name) {
        setTarget(current => current || (model.me?.name ?? ''));
      }
    };
    prefill();
    model.changed.connect(prefill);
    return () => {
      model.changed.disconnect(prefill);
    };
  }, [model]);
  const [allowHome, setAllowHome] = React.useState(false);
  const [allowView, setAllowView] = React.useState(false);
  const [allowStartup, setAllowStartup] = React.useState(false);
  const [volume, setVolume] = React.useState('');
  const [license, setLicense] = React.useState('');
  const [grantError, setGrantError] = React.useState('');
  const [actionError, setActionError] = React.useState('');

  const reload = React.useCallback(async () => {
    try {
      const [users, applications, grants, containers, images, stats] =
        await Promise.all([
          api.users(),
          api.adminApplications(),
          api.grants(),
          api.adminContainers(),
          api.images(),
          api.stats()
        ]);
      setData({
        users: users.items,
        applications: applications.items,
        grants: grants.items,
        containers: containers.items,
        images: images.items,
        stats
      });
      setLoadError('');
    } catch (error) {
      setLoadError(String((error as Error).message ?? error));
    }
  }, [api]);

  React.useEffect(() => {
    void reload();
  }, [reload]);

  /** Run an action, show its error in `setError`, reload on success. */
  const act = async (
    action: () => Promise<unknown>,
    setError: (message: string) => void
  ): Promise<boolean> => {
    try {
      await action();
      setError('');
    } catch (error) {
      setError(String((error as Error).message ?? error));
      return false;
    }
    await reload();
    // Grants and apps change what the user may start: update the launcher.
    void model.refresh();
    return true;
  };

  const createUser = async (event: React.FormEvent) => {
    event.preventDefault();
    const name = userName.trim();
    if (!name) {
      setUserError(trans.__('Enter a user name.'));
      return;
    }
    if (await act(() => api.createUser(name), setUserError)) {
      setUserName('');
    }
  };

  const registerImage = async (event: React.FormEvent) => {
    event.preventDefault();
    if (!image) {
      setAppError(trans.__('Choose an image.'));
      return;
    }
    if (await act(() => api.createApplication(image), setAppError)) {
      setImage('');
    }
  };

  const grant = async (event: React.FormEvent) => {
    event.preventDefault();
    const request: IGrantRequest = {
      image: grantImage || data.applications[0]?.image || '',
      policy: {
        allow_home: allowHome,
        allow_view: allowView,
        allow_startup_data: allowStartup
      }
    };
    request[targetKind] = target.trim();
    if (volume.trim()) {
      request.policy!.volume = volume.trim();
    }
    if (license.trim()) {
      request.policy!.app_license = license.trim();
    }
    const error = validateGrant(request, trans);
    if (error) {
      setGrantError(error);
      return;
    }
    await act(() => api.grant(request), setGrantError);
  };

  const unregistered = data.images.filter(info => !info.registered);
  const stats = data.stats;

  return (
    <div className="jp-RemoteApp-sidebar jp-RemoteApp-admin">
      <div className="jp-RemoteApp-header">
        <h2>{trans.__('Remote Apps Admin')}</h2>
        <button
          className="jp-mod-styled jp-RemoteApp-button"
          onClick={() => void reload()}
        >
          {trans.__('Refresh')}
        </button>
      </div>
      <FormError error={loadError} />
      <FormError error={actionError} />

      <section className="jp-RemoteApp-section jp-RemoteApp-stats">
        <h3>{trans.__('Statistics')}</h3>
        {stats && (
          <p>
            {trans.__(
              '%1 users, %2 applications, %3 grants, %4 containers (%5 running)',
              stats.users,
              stats.applications,
              stats.grants,
              stats.containers.total,
              stats.containers.running
            )}
          </p>
        )}
      </section>

      <section className="jp-RemoteApp-section jp-RemoteApp-users">
        <h3>{trans.__('Users')}</h3>
        <ul className="jp-RemoteApp-list">
          {data.users.map(user => (
            <li key={user.name} className="jp-RemoteApp-item">
              <span className="jp-RemoteApp-itemName">{user.name}</span>
              <span className="jp-RemoteApp-itemDetail">
                {trans._n('%1 grant', '%1 grants', user.grants)}
              </span>
              <button
                className="jp-mod-styled jp-mod-warn jp-RemoteApp-button"
                onClick={() =>
                  void act(() => api.removeUser(user.name), setActionError)
                }
              >
                {trans.__('Remove')}
              </button>
            </li>
          ))}
        </ul>
        <form className="jp-RemoteApp-form" onSubmit={createUser}>
          <input
            className="jp-mod-styled"
            aria-label={trans.__('New user name')}
            placeholder={trans.__('user name')}
            value={userName}
            onChange={e => setUserName(e.target.value)}
          />
          <button type="submit" className="jp-mod-styled jp-mod-accept">
            {trans.__('Create')}
          </button>
        </form>
        <FormError error={userError} />
      </section>

      <section className="jp-RemoteApp-section jp-RemoteApp-applicationsAdmin">
        <h3>{trans.__('Applications')}</h3>
        <ul className="jp-RemoteApp-list">
          {data.applications.map(record => (
            <li key={record.image} className="jp-RemoteApp-item">
              <span className="jp-RemoteApp-itemName">
                {record.info.ui_name || record.image}
              </span>
              <span className="jp-RemoteApp-itemDetail">
                {record.available
                  ? record.image
                  : trans.__('%1 (image missing)', record.image)}
              </span>
              <button
                className="jp-mod-styled jp-mod-warn jp-RemoteApp-button"
                onClick={() =>
                  void act(
                    () => api.removeApplication(record.image),
                    setActionError
                  )
                }
              >
                {trans.__('Remove')}
              </button>
            </li>
          ))}
        </ul>
        <form className="jp-RemoteApp-form" onSubmit={registerImage}>
          <select
            className="jp-mod-styled"
            aria-label={trans.__('Image to register')}
            value={image}
            onChange={e => setImage(e.target.value)}
          >
            <option value="">{trans.__('Choose a docker image…')}</option>
            {unregistered.map(info => (
              <option key={info.name} value={info.name}>
                {`${info.ui_name} (${info.name})`}
              </option>
            ))}
          </select>
          <button type="submit" className="jp-mod-styled jp-mod-accept">
            {trans.__('Register')}
          </button>
        </form>
        <FormError error={appError} />
      </section>

      <section className="jp-RemoteApp-section jp-RemoteApp-grants">
        <h3>{trans.__('Grants')}</h3>
        <ul className="jp-RemoteApp-list">
          {data.grants.map(g => (
            <li key={g.mapping_id} className="jp-RemoteApp-item">
              <div className="jp-RemoteApp-itemText">
                <div className="jp-RemoteApp-itemName">
                  {g.user !== null
                    ? trans.__('%1 → user %2', g.image, g.user)
                    : trans.__('%1 → group %2', g.image, g.group ?? '')}
                </div>
                <div className="jp-RemoteApp-itemDetail">
                  {policySummary(g.policy, trans)}
                </div>
              </div>
              <button
                className="jp-mod-styled jp-mod-warn jp-RemoteApp-button"
                onClick={() =>
                  void act(() => api.revoke(g.mapping_id), setActionError)
                }
              >
                {trans.__('Revoke')}
              </button>
            </li>
          ))}
        </ul>
        <form
          className="jp-RemoteApp-form jp-RemoteApp-grantForm"
          onSubmit={grant}
        >
          <select
            className="jp-mod-styled"
            aria-label={trans.__('Application to grant')}
            value={grantImage}
            onChange={e => setGrantImage(e.target.value)}
          >
            {data.applications.map(record => (
              <option key={record.image} value={record.image}>
                {record.info.ui_name || record.image}
              </option>
            ))}
          </select>
          <div className="jp-RemoteApp-row">
            <select
              className="jp-mod-styled"
              aria-label={trans.__('Grant to')}
              value={targetKind}
              onChange={e => setTargetKind(e.target.value as 'user' | 'group')}
            >
              <option value="user">{trans.__('user')}</option>
              <option value="group">{trans.__('group')}</option>
            </select>
            <input
              className="jp-mod-styled"
              aria-label={trans.__('User or group name')}
              value={target}
              onChange={e => setTarget(e.target.value)}
            />
          </div>
          <label>
            <input
              type="checkbox"
              checked={allowHome}
              onChange={e => setAllowHome(e.target.checked)}
            />
            {trans.__('Mount the home directory')}
          </label>
          <label>
            <input
              type="checkbox"
              checked={allowView}
              onChange={e => setAllowView(e.target.checked)}
            />
            {trans.__('Viewable by others')}
          </label>
          <label>
            <input
              type="checkbox"
              checked={allowStartup}
              onChange={e => setAllowStartup(e.target.checked)}
            />
            {trans.__('Allow startup data')}
          </label>
          <input
            className="jp-mod-styled"
            aria-label={trans.__('Volume')}
            placeholder={trans.__('volume SOURCE:TARGET:ro|rw (optional)')}
            value={volume}
            onChange={e => setVolume(e.target.value)}
          />
          <input
            className="jp-mod-styled"
            aria-label={trans.__('License')}
            placeholder={trans.__('application license (optional)')}
            value={license}
            onChange={e => setLicense(e.target.value)}
          />
          <button type="submit" className="jp-mod-styled jp-mod-accept">
            {trans.__('Grant')}
          </button>
        </form>
        <FormError error={grantError} />
      </section>

      <section className="jp-RemoteApp-section jp-RemoteApp-allContainers">
        <h3>{trans.__('Containers (all users)')}</h3>
        <ul className="jp-RemoteApp-list">
          {data.containers.map(container => (
            <li key={container.url_id} className="jp-RemoteApp-item">
              <div className="jp-RemoteApp-itemText">
                <div className="jp-RemoteApp-itemName">{container.ui_name}</div>
                <div className="jp-RemoteApp-itemDetail">
                  {trans.__('%1 · %2', container.user, container.status)}
                </div>
              </div>
              <button
                className="jp-mod-styled jp-mod-warn jp-RemoteApp-button"
                onClick={() =>
                  void act(
                    () => api.adminStop(container.url_id),
                    setActionError
                  )
                }
              >
                {trans.__('Stop')}
              </button>
            </li>
          ))}
        </ul>
      </section>
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
