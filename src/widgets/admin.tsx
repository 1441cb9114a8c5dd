/**
 * The admin sidebar: statistics, users, applications, grants, all containers.
 *
 * Shown only to admins (`GET me` → admin); the server checks the scope on
 * every call anyway. The lists page through the server (`?offset=&limit=`),
 * so an installation with 10,000 users and 100,000 grants loads 50 at a time;
 * grants can be filtered by image and by user or group. All server text is
 * rendered as React text; server errors are notifications.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { RemoteAppAPI } from '../api';
import { notifyError } from '../notify';
import {
  ADMIN_PAGE_SIZE,
  formatCount,
  neighbourPages,
  offsetAfterLoad,
  pageSummary
} from '../paging';
import { policySummary } from '../policy';
import {
  IApplicationRecord,
  IContainer,
  IGrant,
  IGrantFilter,
  IGrantRequest,
  IImageInfo,
  IPage,
  IPageRequest,
  IRemoteApps,
  IStats,
  IUser
} from '../tokens';

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

interface IAdminProps {
  api: RemoteAppAPI;
  model: IRemoteApps;
  trans: TranslationBundle;
}

/** What every section needs. */
interface ISectionProps {
  api: RemoteAppAPI;
  trans: TranslationBundle;
  /** Bumped after every change: the lists reload their current page. */
  version: number;
  /** Run an admin action; on success every list reloads. */
  act: (summary: string, action: () => Promise<unknown>) => Promise<boolean>;
  /** Show a failed load. */
  onLoadError: (summary: string, error: unknown) => void;
}

/** Ask before a removal that takes grants with it. */
async function confirmRemoval(
  title: string,
  body: string,
  trans: TranslationBundle
): Promise<boolean> {
  const result = await showDialog({
    title,
    body,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: trans.__('Remove') })
    ]
  });
  return result.button.accept;
}

/**
 * `value`, once it has not changed for `delay` ms.
 */
function useDebounced<T>(value: T, delay: number): T {
  const [debounced, setDebounced] = React.useState(value);
  React.useEffect(() => {
    const timer = window.setTimeout(() => setDebounced(value), delay);
    return () => window.clearTimeout(timer);
  }, [value, delay]);
  return debounced;
}

/** What {@link usePage} gives a section: the page shown and how to move. */
interface IPagedList<T> {
  page: IPage<T> | null;
  offset: number;
  setOffset: (offset: number) => void;
  loading: boolean;
}

/**
 * One page of an admin listing, reloaded when `version` or `filterKey` change
 * (a new filter starts at the first page). An answer to an older request is
 * dropped; an empty page that is not the first goes back one page.
 */
function usePage<T>(
  fetchPage: (page: IPageRequest) => Promise<IPage<T>>,
  options: {
    filterKey: string;
    version: number;
    onError: (error: unknown) => void;
    limit?: number;
  }
): IPagedList<T> {
  const { filterKey, version, limit = ADMIN_PAGE_SIZE } = options;
  const [position, setPosition] = React.useState({ filterKey, offset: 0 });
  const offset = position.filterKey === filterKey ? position.offset : 0;
  const [page, setPage] = React.useState<IPage<T> | null>(null);
  const [loading, setLoading] = React.useState(false);
  const latest = React.useRef(0);
  // The callbacks change on every render; the requests follow the values.
  const fetchRef = React.useRef(fetchPage);
  fetchRef.current = fetchPage;
  const onErrorRef = React.useRef(options.onError);
  onErrorRef.current = options.onError;

  React.useEffect(() => {
    const request = ++latest.current;
    setLoading(true);
    fetchRef.current({ offset, limit }).then(
      result => {
        if (request !== latest.current) {
          return;
        }
        const wanted = offsetAfterLoad(
          offset,
          result.items.length,
          result.total,
          limit
        );
        if (wanted !== offset) {
          setPosition({ filterKey, offset: wanted });
          return;
        }
        setPage(result);
        setLoading(false);
      },
      error => {
        if (request !== latest.current) {
          return;
        }
        setLoading(false);
        onErrorRef.current(error);
      }
    );
  }, [filterKey, offset, version, limit]);

  const setOffset = React.useCallback(
    (next: number) => setPosition({ filterKey, offset: next }),
    [filterKey]
  );
  return { page, offset, setOffset, loading };
}

/** A section heading with the number of items. */
function Heading(props: {
  title: string;
  count: number | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { title, count, trans } = props;
  return (
    <summary className="jp-RemoteApp-sectionSummary">
      <h3 className="jp-RemoteApp-sectionTitle">
        <span>{title}</span>
        {count !== null && (
          <span
            className="jp-RemoteApp-count"
            title={trans.__('%1 in all', formatCount(count))}
          >
            {formatCount(count)}
          </span>
        )}
      </h3>
    </summary>
  );
}

/** "Showing 1–50 of 10,000" with previous/next buttons. */
function Pager(props: {
  page: IPage<unknown> | null;
  offset: number;
  onPage: (offset: number) => void;
  /** What is paged, for the buttons' labels, e.g. "users". */
  what: string;
  loading: boolean;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { page, offset, onPage, what, loading, trans } = props;
  if (!page || page.total === 0) {
    return null;
  }
  const { previous, next } = neighbourPages(
    offset,
    page.total,
    ADMIN_PAGE_SIZE
  );
  const previousLabel = trans.__('Previous page of %1', what);
  const nextLabel = trans.__('Next page of %1', what);
  return (
    <div className="jp-RemoteApp-pager" aria-busy={loading}>
      <span className="jp-RemoteApp-pageSummary" aria-live="polite">
        {pageSummary(offset, page.items.length, page.total, trans)}
      </span>
      {(previous !== null || next !== null) && (
        <span className="jp-RemoteApp-pageButtons">
          <button
            type="button"
            className="jp-mod-styled jp-RemoteApp-button"
            title={previousLabel}
            aria-label={previousLabel}
            disabled={previous === null || loading}
            onClick={() => previous !== null && onPage(previous)}
          >
            {'‹'}
          </button>
          <button
            type="button"
            className="jp-mod-styled jp-RemoteApp-button"
            title={nextLabel}
            aria-label={nextLabel}
            disabled={next === null || loading}
            onClick={() => next !== null && onPage(next)}
          >
            {'›'}
          </button>
        </span>
      )}
    </div>
  );
}

/** A compact action button of a list row (text, title and aria-label). */
function RowButton(props: {
  text: string;
  label: string;
  onClick: () => void;
  warn?: boolean;
}): JSX.Element {
  return (
    <button
      type="button"
      className={`jp-mod-styled jp-RemoteApp-button jp-RemoteApp-rowButton${
        props.warn ? ' jp-RemoteApp-danger' : ''
      }`}
      title={props.label}
      aria-label={props.label}
      onClick={props.onClick}
    >
      {props.text}
    </button>
  );
}

/** A form's error line (client-side checks; server errors are notifications). */
function FormError(props: { error: string }): JSX.Element | null {
  return props.error ? (
    <div className="jp-RemoteApp-error jp-RemoteApp-formError" role="alert">
      {props.error}
    </div>
  ) : null;
}

/** An empty list's line. */
function Empty(props: { text: string }): JSX.Element {
  return <p className="jp-RemoteApp-empty">{props.text}</p>;
}

/**
 * A collapsible admin section around one paged list: the heading with the total,
 * `controls` (a filter), the `empty` text when there is nothing, the pager, then
 * the children (the list and any forms).
 */
function PagedSection<T>(props: {
  className: string;
  title: string;
  /** What is paged, for the pager's labels, e.g. "users". */
  what: string;
  empty: string;
  list: IPagedList<T>;
  trans: TranslationBundle;
  controls?: React.ReactNode;
  sectionRef?: React.Ref<HTMLDetailsElement>;
  children: React.ReactNode;
}): JSX.Element {
  const { list, trans } = props;
  return (
    <details
      open
      className={`jp-RemoteApp-section ${props.className}`}
      ref={props.sectionRef}
    >
      <Heading
        title={props.title}
        count={list.page?.total ?? null}
        trans={trans}
      />
      {props.controls}
      {list.page && list.page.total === 0 && <Empty text={props.empty} />}
      <Pager
        page={list.page}
        offset={list.offset}
        onPage={list.setOffset}
        what={props.what}
        loading={list.loading}
        trans={trans}
      />
      {props.children}
    </details>
  );
}

function StatsSection(props: ISectionProps): JSX.Element {
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

function UsersSection(
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

function ApplicationsSection(
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

function GrantForm(
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

function GrantsSection(
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

function ContainersSection(props: ISectionProps): JSX.Element {
  const { api, trans, version, act, onLoadError } = props;
  const list = usePage(request => api.adminContainers(request), {
    filterKey: '',
    version,
    onError: error =>
      onLoadError(trans.__('Could not load the containers'), error)
  });
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
        {list.page?.items.map((container: IContainer) => (
          <li key={container.url_id} className="jp-RemoteApp-item">
            <div className="jp-RemoteApp-itemText">
              <div className="jp-RemoteApp-itemName">{container.ui_name}</div>
              <div className="jp-RemoteApp-itemDetail">
                {trans.__('%1 · %2', container.user, container.status)}
              </div>
            </div>
            <RowButton
              text={trans.__('Stop')}
              label={trans.__(
                'Stop %1 of %2',
                container.ui_name,
                container.user
              )}
              warn
              onClick={() =>
                void act(trans.__('Could not stop %1', container.ui_name), () =>
                  api.adminStop(container.url_id)
                )
              }
            />
          </li>
        ))}
      </ul>
    </PagedSection>
  );
}

function AdminContent(props: IAdminProps): JSX.Element {
  const { api, model, trans } = props;
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
      <ContainersSection {...section} />
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
