/**
 * Paging of the mock's lists the way the API pages them: `limit` (1–1000, default 20) with both cursor styles the
 * API and its SDKs use: `after_id` / `before_id` (answered with `first_id`, `last_id`, `has_more`) and the opaque
 * `page` cursor (answered with `next_page`).
 */

/** One page of a list. */
export interface ListPage<T> {
  readonly data: T[];
  readonly has_more: boolean;
  readonly first_id: string | null;
  readonly last_id: string | null;
  /** Cursor for the page after this one (`page_…`), null on the last page. */
  readonly next_page: string | null;
}

/** The `page` cursor that continues after item `id`. */
const cursorAfter = (id: string): string => `page_${Buffer.from(id).toString('base64url')}`;

/** A page of `items` (already in list order) for `query`; a string is a 400 message. */
export function listPage<T extends { id: string }>(items: readonly T[], query: URLSearchParams): ListPage<T> | string {
  const limitText = query.get('limit');
  const limit = limitText === null ? 20 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    return 'limit: Input should be an integer between 1 and 1000';
  const index = (id: string): number => items.findIndex((item) => item.id === id);
  let list = [...items];
  const page = query.get('page');
  const after = query.get('after_id') ?? (page ? pageCursorId(page) : null);
  if (page && after === null) return 'page: invalid page cursor';
  const before = query.get('before_id');
  if (after !== null) list = list.slice(index(after) + 1 || list.length);
  if (before !== null)
    list = list.slice(
      0,
      Math.max(
        0,
        list.findIndex((item) => item.id === before),
      ),
    );
  // before_id pages backwards: the page is the items just before the cursor.
  const backwards = before !== null && after === null;
  const data = backwards ? list.slice(-limit) : list.slice(0, limit);
  const hasMore = list.length > data.length;
  const last = data.at(-1)?.id ?? null;
  return {
    data,
    has_more: hasMore,
    first_id: data[0]?.id ?? null,
    last_id: last,
    next_page: !backwards && hasMore && last !== null ? cursorAfter(last) : null,
  };
}

function pageCursorId(page: string): string | null {
  if (!page.startsWith('page_')) return null;
  const id = Buffer.from(page.slice(5), 'base64url').toString('utf8');
  return id === '' ? null : id;
}

/** Every value of a list query parameter, whichever way it was encoded: `ids=a&ids=b`, `ids[]=…`, `ids[0]=…`. */
export function queryList(query: URLSearchParams, name: string): string[] | undefined {
  const values = [...query.entries()]
    .filter(([key]) => key === name || key === `${name}[]` || new RegExp(`^${name}\\[\\d+\\]$`).test(key))
    .flatMap(([, value]) => value.split(','))
    .filter((value) => value !== '');
  return values.length > 0 ? values : undefined;
}
