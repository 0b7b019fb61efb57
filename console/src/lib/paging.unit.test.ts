import assert from 'node:assert/strict';
import { test } from 'uvu';
import { pageCount, pageLinks, readPaging } from './paging.ts';
import { routes } from './routes.ts';

test('paging › page links are all shown when few, else 1 2 3 … 38 39 40 around the current page', () => {
  assert.deepEqual(pageLinks(1, 1), [1]);
  assert.deepEqual(pageLinks(3, 7), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(pageLinks(1, 40), [1, 2, 3, null, 38, 39, 40]);
  assert.deepEqual(pageLinks(40, 40), [1, 2, 3, null, 38, 39, 40]);
  assert.deepEqual(pageLinks(20, 40), [1, 2, 3, null, 19, 20, 21, null, 38, 39, 40]);
  // A gap of one page shows the page rather than "…".
  assert.deepEqual(pageLinks(5, 40), [1, 2, 3, 4, 5, 6, null, 38, 39, 40]);
  assert.deepEqual(pageLinks(4, 9), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('paging › page and size from the URL; anything invalid falls back to page 1 and 10 entries', () => {
  const read = (search: string) => readPaging(new URL(`http://x/imports${search}`));
  assert.deepEqual(read(''), { page: 1, size: 10 });
  assert.deepEqual(read('?page=3&size=25'), { page: 3, size: 25 });
  assert.deepEqual(read('?page=0&size=7'), { page: 1, size: 10 });
  assert.deepEqual(read('?page=-2&size=1e2'), { page: 1, size: 10 });
  assert.deepEqual(read('?page=abc&size=100'), { page: 1, size: 100 });
  assert.deepEqual(read('?page=2&page=3'), { page: 1, size: 10 }, 'a parameter given twice is not trusted');
  assert.deepEqual(read('?page=99999999'), { page: 1, size: 10 });
});

test('paging › page count and URLs keep defaults out of the address', () => {
  assert.equal(pageCount(0, 10), 1);
  assert.equal(pageCount(10, 10), 1);
  assert.equal(pageCount(11, 10), 2);
  assert.equal(routes.imports({ page: 1, size: 10 }), '/imports');
  assert.equal(routes.imports({ page: 2, size: 10 }), '/imports?page=2');
  assert.equal(routes.imports({ page: 1, size: 50 }), '/imports?size=50');
  assert.equal(routes.errors('a/b', { page: 3, size: 25 }), '/imports/a%2Fb/errors?page=3&size=25');
});

test.run();
