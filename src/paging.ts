/**
 * Paging of the admin listings: which page to show, and how to describe it.
 *
 * Pure functions (no DOM, no requests), shared by the admin sidebar and its tests.
 */
import { TranslationBundle } from '@jupyterlab/translation';

/**
 * Items per page of the admin lists.
 */
export const ADMIN_PAGE_SIZE = 50;

/**
 * The offset of the last page of `total` items (0 when there are none).
 */
export function lastPageOffset(total: number, limit: number): number {
  if (total <= 0 || limit <= 0) {
    return 0;
  }
  return Math.floor((total - 1) / limit) * limit;
}

/**
 * The offset to show after a page was loaded: the same one, unless the page came
 * back empty although it is not the first (its items were deleted, here or by
 * another admin). Then one page back, or the last page when fewer are left.
 */
export function offsetAfterLoad(
  offset: number,
  count: number,
  total: number,
  limit: number
): number {
  if (count > 0 || offset <= 0) {
    return offset;
  }
  return Math.max(0, Math.min(offset - limit, lastPageOffset(total, limit)));
}

/**
 * The offsets of the previous and next pages, or null at either end.
 */
export function neighbourPages(
  offset: number,
  total: number,
  limit: number
): { previous: number | null; next: number | null } {
  return {
    previous: offset > 0 ? Math.max(0, offset - limit) : null,
    next: offset + limit < total ? offset + limit : null
  };
}

/**
 * A count for people: `10000` → "10,000" (in the browser's locale).
 */
export function formatCount(count: number): string {
  return count.toLocaleString();
}

/**
 * "Showing 1–50 of 10,000" for a page of `count` items from `offset`.
 */
export function pageSummary(
  offset: number,
  count: number,
  total: number,
  trans: TranslationBundle
): string {
  if (count === 0) {
    return trans.__('Showing 0 of %1', formatCount(total));
  }
  return trans.__(
    'Showing %1–%2 of %3',
    formatCount(offset + 1),
    formatCount(offset + count),
    formatCount(total)
  );
}
