/**
 * Hooks of the admin sidebar: debounced values and one page of a listing.
 */
import * as React from 'react';

import { ADMIN_PAGE_SIZE, offsetAfterLoad } from '../../paging';
import { IPage, IPageRequest } from '../../tokens';

/**
 * `value`, once it has not changed for `delay` ms.
 */
export function useDebounced<T>(value: T, delay: number): T {
  const [debounced, setDebounced] = React.useState(value);
  React.useEffect(() => {
    const timer = window.setTimeout(() => setDebounced(value), delay);
    return () => window.clearTimeout(timer);
  }, [value, delay]);
  return debounced;
}

/** What {@link usePage} gives a section: the page shown and how to move. */
export interface IPagedList<T> {
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
export function usePage<T>(
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
