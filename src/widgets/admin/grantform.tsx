/**
 * The grant form of the admin sidebar and its checks.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  IGrantFilter,
  IGrantRequest,
  IImageInfo,
  IRemoteApps
} from '../../tokens';
import { FormError, ISectionProps } from './components';

/** `SOURCE:TARGET:ro|rw` with an absolute target. */
const VOLUME_PATTERN = /^[^:]+:\/[^:]*:(ro|rw)$/;

/** How long the grant filter waits for the typing to stop (ms). */
export const FILTER_DEBOUNCE = 300;

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

/**
 * The grant filter as the form holds it.
 */
export interface IGrantFilterForm {
  /** An image name, or '' for all. */
  image: string;
  /** Whether `name` is a user or a group. */
  kind: 'user' | 'group';
  /** An exact user or group name, or '' for all. */
  name: string;
}

/**
 * The selectors of `GET admin/grants` for a filter form (blank ones left out).
 */
export function grantSelectors(filter: IGrantFilterForm): IGrantFilter {
  const selectors: IGrantFilter = {};
  if (filter.image) {
    selectors.image = filter.image;
  }
  const name = filter.name.trim();
  if (name) {
    selectors[filter.kind] = name;
  }
  return selectors;
}

export function GrantForm(
  props: ISectionProps & { model: IRemoteApps; registered: IImageInfo[] }
): JSX.Element {
  const { api, model, trans, act, registered } = props;
  const [image, setImage] = React.useState('');
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
  const [error, setError] = React.useState('');

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const request: IGrantRequest = {
      image: image || registered[0]?.name || '',
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
    const problem = validateGrant(request, trans);
    setError(problem);
    if (problem) {
      return;
    }
    await act(
      trans.__('Could not grant %1 to %2', request.image, target.trim()),
      () => api.grant(request)
    );
  };

  const checkbox = (
    label: string,
    checked: boolean,
    set: (value: boolean) => void
  ) => (
    <label className="jp-RemoteApp-check">
      <input
        type="checkbox"
        checked={checked}
        onChange={e => set(e.target.checked)}
      />
      {label}
    </label>
  );

  return (
    <form
      className="jp-RemoteApp-form jp-RemoteApp-grantForm"
      aria-label={trans.__('New grant')}
      onSubmit={submit}
    >
      <h4 className="jp-RemoteApp-formTitle">{trans.__('New grant')}</h4>
      <select
        className="jp-mod-styled"
        aria-label={trans.__('Application to grant')}
        value={image}
        onChange={e => setImage(e.target.value)}
      >
        {registered.map(info => (
          <option key={info.name} value={info.name}>
            {info.ui_name || info.name}
          </option>
        ))}
      </select>
      <div className="jp-RemoteApp-row">
        <select
          className="jp-mod-styled jp-RemoteApp-kind"
          aria-label={trans.__('Grant to')}
          value={targetKind}
          onChange={e => setTargetKind(e.target.value as 'user' | 'group')}
        >
          <option value="user">{trans.__('user')}</option>
          <option value="group">{trans.__('group')}</option>
        </select>
        <input
          className="jp-mod-styled jp-RemoteApp-grow"
          aria-label={trans.__('User or group name')}
          value={target}
          onChange={e => setTarget(e.target.value)}
        />
      </div>
      <div className="jp-RemoteApp-checks">
        {checkbox(
          trans.__('Mount the home directory'),
          allowHome,
          setAllowHome
        )}
        {checkbox(trans.__('Viewable by others'), allowView, setAllowView)}
        {checkbox(
          trans.__('Allow startup data'),
          allowStartup,
          setAllowStartup
        )}
      </div>
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
      <button
        type="submit"
        className="jp-mod-styled jp-mod-accept jp-RemoteApp-button"
        title={trans.__('Grant the application under this policy')}
      >
        {trans.__('Grant')}
      </button>
      <FormError error={error} />
    </form>
  );
}
