/**
 * Components shared by the admin sidebar's sections: the section frame with
 * its heading and pager, row buttons, form errors, the removal dialog, and
 * what every section gets.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { RemoteAppsRestClient } from '../../api';
import {
  ADMIN_PAGE_SIZE,
  formatCount,
  neighbourPages,
  pageSummary
} from '../../paging';
import { IPage } from '../../tokens';
import { IPagedList } from './hooks';

/** What every section needs. */
export interface ISectionProps {
  api: RemoteAppsRestClient;
  trans: TranslationBundle;
  /** Bumped after every change: the lists reload their current page. */
  version: number;
  /** Run an admin action; on success every list reloads. */
  act: (summary: string, action: () => Promise<unknown>) => Promise<boolean>;
  /** Show a failed load. */
  onLoadError: (summary: string, error: unknown) => void;
}

/** Ask before a removal that takes grants with it. */
export async function confirmRemoval(
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

/** A section heading with the number of items. */
export function Heading(props: {
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
export function Pager(props: {
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
export function RowButton(props: {
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
export function FormError(props: { error: string }): JSX.Element | null {
  return props.error ? (
    <div className="jp-RemoteApp-error jp-RemoteApp-formError" role="alert">
      {props.error}
    </div>
  ) : null;
}

/** An empty list's line. */
export function Empty(props: { text: string }): JSX.Element {
  return <p className="jp-RemoteApp-empty">{props.text}</p>;
}

/**
 * A collapsible admin section around one paged list: the heading with the total,
 * `controls` (a filter), the `empty` text when there is nothing, the pager, then
 * the children (the list and any forms).
 */
export function PagedSection<T>(props: {
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
