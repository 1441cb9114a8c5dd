/**
 * The grants section of the admin sidebar: the filter, the list, revoke, and
 * the grant form.
 */
import * as React from 'react';

import { policySummary } from '../../policy';
import { IGrant, IImageInfo, IRemoteApps } from '../../tokens';
import { ISectionProps, PagedSection, RowButton } from './components';
import {
  FILTER_DEBOUNCE,
  GrantForm,
  grantSelectors,
  IGrantFilterForm
} from './grantform';
import { useDebounced, usePage } from './hooks';

export function GrantsSection(
  props: ISectionProps & {
    model: IRemoteApps;
    registered: IImageInfo[];
    filter: IGrantFilterForm;
    setFilter: (filter: IGrantFilterForm) => void;
    sectionRef: React.RefObject<HTMLDetailsElement>;
  }
): JSX.Element {
  const { api, trans, version, act, onLoadError, registered, filter } = props;
  const { setFilter, sectionRef } = props;
  const name = useDebounced(filter.name, FILTER_DEBOUNCE);
  const selectors = grantSelectors({ ...filter, name });
  const filtered = Object.keys(selectors).length > 0;
  const list = usePage(request => api.grants({ ...request, ...selectors }), {
    filterKey: JSON.stringify(selectors),
    version,
    onError: error => onLoadError(trans.__('Could not load the grants'), error)
  });
  // An image filter keeps its option even when the image is gone from docker.
  const filterImages = registered.map(info => info.name);
  if (filter.image && !filterImages.includes(filter.image)) {
    filterImages.push(filter.image);
  }

  const revoke = (grant: IGrant) =>
    act(trans.__('Could not revoke the grant of %1', grant.image), () =>
      api.revoke(grant.mapping_id)
    );

  return (
    <PagedSection
      className="jp-RemoteApp-grants"
      title={trans.__('Grants')}
      what={trans.__('grants')}
      empty={
        filtered
          ? trans.__('No grant matches the filter.')
          : trans.__('No grants yet.')
      }
      list={list}
      trans={trans}
      sectionRef={sectionRef}
      controls={
        <div
          className="jp-RemoteApp-filter"
          role="search"
          aria-label={trans.__('Filter the grants')}
        >
          <select
            className="jp-mod-styled"
            aria-label={trans.__('Filter grants by application')}
            value={filter.image}
            onChange={e => setFilter({ ...filter, image: e.target.value })}
          >
            <option value="">{trans.__('All applications')}</option>
            {filterImages.map(image => (
              <option key={image} value={image}>
                {image}
              </option>
            ))}
          </select>
          <div className="jp-RemoteApp-row">
            <select
              className="jp-mod-styled jp-RemoteApp-kind"
              aria-label={trans.__('Filter grants to a user or a group')}
              value={filter.kind}
              onChange={e =>
                setFilter({
                  ...filter,
                  kind: e.target.value as 'user' | 'group'
                })
              }
            >
              <option value="user">{trans.__('user')}</option>
              <option value="group">{trans.__('group')}</option>
            </select>
            <input
              type="search"
              className="jp-mod-styled jp-RemoteApp-grow"
              aria-label={trans.__('Filter grants by exact name')}
              placeholder={
                filter.kind === 'user'
                  ? trans.__('exact user name')
                  : trans.__('exact group name')
              }
              value={filter.name}
              onChange={e => setFilter({ ...filter, name: e.target.value })}
            />
            {(filter.image || filter.name) && (
              <button
                type="button"
                className="jp-mod-styled jp-RemoteApp-button"
                title={trans.__('Clear the grant filter')}
                aria-label={trans.__('Clear the grant filter')}
                onClick={() => setFilter({ image: '', kind: 'user', name: '' })}
              >
                {trans.__('Clear')}
              </button>
            )}
          </div>
        </div>
      }
    >
      <ul className="jp-RemoteApp-list">
        {list.page?.items.map(g => (
          <li key={g.mapping_id} className="jp-RemoteApp-item">
            <div className="jp-RemoteApp-itemText">
              <div className="jp-RemoteApp-itemName" title={g.image}>
                {g.image}
              </div>
              <div className="jp-RemoteApp-itemDetail">
                {g.user !== null
                  ? trans.__('user %1', g.user)
                  : trans.__('group %1', g.group ?? '')}
                {' · '}
                {policySummary(g.policy, trans)}
              </div>
            </div>
            <RowButton
              text={trans.__('Revoke')}
              label={
                g.user !== null
                  ? trans.__('Revoke %1 from user %2', g.image, g.user)
                  : trans.__('Revoke %1 from group %2', g.image, g.group ?? '')
              }
              warn
              onClick={() => void revoke(g)}
            />
          </li>
        ))}
      </ul>
      <GrantForm {...props} />
    </PagedSection>
  );
}
