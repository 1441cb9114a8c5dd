/**
 * The applications section of the admin sidebar: register a docker image,
 * remove an application.
 */
import * as React from 'react';

import { IApplicationRecord, IImageInfo } from '../../tokens';
import {
  confirmRemoval,
  FormError,
  ISectionProps,
  PagedSection,
  RowButton
} from './components';
import { usePage } from './hooks';

export function ApplicationsSection(
  props: ISectionProps & { images: IImageInfo[] }
): JSX.Element {
  const { api, trans, version, act, onLoadError, images } = props;
  const list = usePage(request => api.adminApplications(request), {
    filterKey: '',
    version,
    onError: error =>
      onLoadError(trans.__('Could not load the applications'), error)
  });
  const [image, setImage] = React.useState('');
  const [error, setError] = React.useState('');
  const unregistered = images.filter(info => !info.registered);

  const register = async (event: React.FormEvent) => {
    event.preventDefault();
    if (!image) {
      setError(trans.__('Choose an image.'));
      return;
    }
    setError('');
    if (
      await act(trans.__('Could not register %1', image), () =>
        api.createApplication(image)
      )
    ) {
      setImage('');
    }
  };

  const remove = async (record: IApplicationRecord) => {
    const sure = await confirmRemoval(
      trans.__('Remove %1?', record.info.ui_name || record.image),
      trans.__(
        'The application %1 and all its grants are removed (the docker image stays).',
        record.image
      ),
      trans
    );
    if (sure) {
      await act(trans.__('Could not remove %1', record.image), () =>
        api.removeApplication(record.image)
      );
    }
  };

  return (
    <PagedSection
      className="jp-RemoteApp-applicationsAdmin"
      title={trans.__('Applications')}
      what={trans.__('applications')}
      empty={trans.__('No application is registered.')}
      list={list}
      trans={trans}
    >
      <ul className="jp-RemoteApp-list">
        {list.page?.items.map(record => (
          <li key={record.image} className="jp-RemoteApp-item">
            <div className="jp-RemoteApp-itemText">
              <div className="jp-RemoteApp-itemName" title={record.image}>
                {record.info.ui_name || record.image}
              </div>
              <div className="jp-RemoteApp-itemDetail">
                {record.available
                  ? record.image
                  : trans.__('%1 (image missing)', record.image)}
              </div>
            </div>
            <RowButton
              text={trans.__('Remove')}
              label={trans.__('Remove the application %1', record.image)}
              warn
              onClick={() => void remove(record)}
            />
          </li>
        ))}
      </ul>
      <form className="jp-RemoteApp-form jp-RemoteApp-row" onSubmit={register}>
        <select
          className="jp-mod-styled jp-RemoteApp-grow"
          aria-label={trans.__('Image to register')}
          value={image}
          onChange={e => setImage(e.target.value)}
        >
          <option value="">
            {unregistered.length > 0
              ? trans.__('Choose a docker image…')
              : trans.__('No unregistered image')}
          </option>
          {unregistered.map(info => (
            <option key={info.name} value={info.name}>
              {trans.__('%1 (%2)', info.ui_name, info.name)}
            </option>
          ))}
        </select>
        <button
          type="submit"
          className="jp-mod-styled jp-mod-accept jp-RemoteApp-button"
          title={trans.__('Register the image as an application')}
        >
          {trans.__('Register')}
        </button>
      </form>
      <FormError error={error} />
    </PagedSection>
  );
}
