// Out of disk space: which errors say so, and when a filesystem counts as full.
import os from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { clearOutOfSpace, diskFull, insufficientStorage, isOutOfSpace, noteOutOfSpace, spaceOf } from './disk.ts';
import { InsufficientStorage } from './errors.ts';

function errno(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, syscall: 'write' });
}

test('disk › ENOSPC, EDQUOT, PostgreSQL\'s disk_full and its "No space left" messages are out of space; nothing else is', () => {
  assert.ok(isOutOfSpace(errno('ENOSPC', 'ENOSPC: no space left on device, write')));
  assert.ok(isOutOfSpace(errno('EDQUOT', 'EDQUOT: disk quota exceeded, write')));
  assert.ok(isOutOfSpace(Object.assign(new Error('could not extend file "base/16384/16473": No space left on device'), { code: '53100' })));
  // A PANIC on WAL reaches the client as a message (with another code, or as a worker's plain Error).
  assert.ok(isOutOfSpace(new Error('could not write to log file "000000010000000000000004" at offset 9027584, length 180224: No space left on device')));
  assert.ok(isOutOfSpace(new Error('could not extend file "base/16384/16473" with FileFallocate(): No space left on device')));
  assert.not.ok(isOutOfSpace(errno('EACCES', 'EACCES: permission denied, open')));
  assert.not.ok(isOutOfSpace(Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' })));
  assert.not.ok(isOutOfSpace(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })));
  assert.not.ok(isOutOfSpace('No space left on device'));
});

test('disk › a filesystem is measured by its nearest existing directory', () => {
  const space = spaceOf(`${os.tmpdir()}/careos-does-not-exist/nor-this`);
  assert.ok(space && space.totalBytes > 0 && space.freeBytes >= 0 && space.freeBytes <= space.totalBytes);
});

test('disk › a write that needs more than is free is a 507 naming the directory, with free and needed bytes, and the filesystem is full until that much is free or a write succeeds', () => {
  const where = os.tmpdir();
  const free = spaceOf(where)!.freeBytes;
  const error = insufficientStorage('the upload could not be stored', where, errno('ENOSPC', 'ENOSPC: no space left on device, write'), free * 2 + 1);
  assert.instance(error, InsufficientStorage);
  assert.is(error.status, 507);
  assert.is(error.where, where);
  assert.is(error.neededBytes, free * 2 + 1);
  assert.type(error.freeBytes, 'number');
  assert.match(error.message, `the upload could not be stored: the filesystem of ${where} is full (`);
  assert.match(error.message, /free of .*; it needs /);
  const full = diskFull();
  assert.is(full?.where, where);
  assert.match(full!.detail, 'no space left on device');
  clearOutOfSpace(where); // an upload stored there
  assert.is(diskFull(), null);
});

test('disk › a failure reported while the filesystem has room (a late log line) does not make it full', () => {
  const where = os.tmpdir();
  noteOutOfSpace(where, 'could not extend file "base/1/2": No space left on device');
  assert.is(diskFull(), null);
});

test('disk › a failure older than the moment space came back is news no more', () => {
  const where = os.tmpdir();
  const free = spaceOf(where)!.freeBytes;
  noteOutOfSpace(where, 'No space left on device', free * 2 + 1);
  clearOutOfSpace(where);
  noteOutOfSpace(where, 'No space left on device', free * 2 + 1, new Date(Date.now() - 60_000).toISOString());
  assert.is(diskFull(), null);
});

test.run();
