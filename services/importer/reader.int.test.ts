// Reading files as Thai users write them: every row of a file is accounted for (imported or
// rejected), whatever its quotes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openTestApp, type TestApp } from '../../test/support/app.ts';
import { errorsOf } from '../../projections/error-log.ts';

const HEADER = 'careos_cus_id,nana_cus_id,gender,firstname,lastname,email,date_of_birth,phone,company_name,force_create';
let t: TestApp;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-reader-'));

test.before(async () => {
  t = await openTestApp();
});
test.after(async () => {
  await t.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function file(name: string, lines: string[]): string {
  const target = path.join(dir, name);
  fs.writeFileSync(target, `${lines.join('\n')}\n`);
  return target;
}

test('reader › a quote inside an unquoted value is read as the character it is, and no row after it is lost', async () => {
  const view = await t.run(file('stray.csv', [
    HEADER,
    ',n7001,F,Stray"Quote,Jaidee,,,0811110001,,',
    ',n7002,M,Somchai,Dee,,,0811110002,,',
    ',n7003,F,Malee,Suk,,,0811110003,,',
  ]), 'nana');
  assert.equal([view.status, view.totalRows, view.importedRows, view.rejectedRows], ['Success', 3, 3, 0]);
  const { rows } = await t.app.pool.query<{ firstname: string }>("select firstname from profile order by row_number");
  assert.equal(rows.map((r) => r.firstname), ['Stray"Quote', 'Somchai', 'Malee']);
});

test('reader › a value holding a NUL and a value over 500 characters reject their rows, each with a reason naming the field and the value; the other rows of the file are imported', async () => {
  const view = await t.run(file('unstorable.csv', [
    HEADER,
    ',n7201,F,Before,Row,,,0813330001,,',
    ',n7202,M,Nul\u0000Byte,Row,,,0813330002,,',
    `,n7203,F,Long,Row,,,0813330003,"${'Rabbit Care '.repeat(50)}",`,
    ',n7204,F,After,Row,,,0813330004,,',
  ]), 'nana');
  assert.equal([view.status, view.totalRows, view.importedRows, view.rejectedRows], ['Failed', 4, 2, 2]);
  const errors = await errorsOf(t.app.pool, view.importId);
  assert.equal(errors.map((e) => [e.row, e.reasons.map((r) => [r.field, r.code])]), [[2, [['firstname', 'unstorable']]], [3, [['company_name', 'unstorable']]]]);
  assert.match(errors[0]!.reasons[0]!.message, 'firstname "Nul\\u0000Byte" holds a NUL character (U+0000, at character 4), which cannot be stored');
  assert.match(errors[1]!.reasons[0]!.message, /^company_name is 600 characters long \("Rabbit Care Rabbit Care .*"…\); at most 500 characters are accepted$/);
  assert.is(errors[0]!.record.firstname, 'Nul\uFFFDByte', 'the error log keeps the row, U+FFFD for the NUL');
});

test('reader › a record that cannot be parsed (a quote never closed) is rejected with its text as written, and every row is accounted for', async () => {
  const view = await t.run(file('unclosed.csv', [
    HEADER,
    ',n7101,F,Before,Row,,,0812220001,,',
    ',n7102,M,"Broken,Row,,,0812220002,,',
    ',n7103,F,After,Row,,,0812220003,,',
  ]), 'nana');
  // A quote never closed runs to the end of the file: the broken row and everything after it are one record.
  assert.equal([view.totalRows, view.importedRows, view.rejectedRows], [2, 1, 1]);
  const errors = await errorsOf(t.app.pool, view.importId);
  assert.equal(errors.map((e) => [e.row, e.reasons.map((r) => r.code)]), [[2, ['unparsable']]]);
  assert.match(errors[0]!.reasons[0]!.message, 'as written: ",n7102,M,\\"Broken,Row,,,0812220002,,');
  assert.match(errors[0]!.record._raw!, ',n7103,F,After,Row');
});

test('reader › an invalid closing quote ("a"b) is read as written, not a lost row', async () => {
  const view = await t.run(file('closing.csv', [
    HEADER,
    ',n7201,F,"Nok"ky,Row,,,0813330001,,',
    ',n7202,M,Next,Row,,,0813330002,,',
  ]), 'nana');
  assert.equal([view.totalRows, view.importedRows + view.rejectedRows], [2, 2]);
});

test('error log › a rejected record keeps the upload\'s column order (JSON as well as CSV)', async () => {
  const view = await t.run(file('order.csv', [
    'phone,lastname,firstname,nana_cus_id,careos_cus_id,gender,email,date_of_birth,company_name,force_create',
    '0814440001,Order,Keeps,,,X,,,,',
  ]), 'nana');
  assert.is(view.rejectedRows, 1);
  const [error] = await errorsOf(t.app.pool, view.importId);
  assert.equal(Object.keys(error!.record), ['phone', 'lastname', 'firstname', 'nana_cus_id', 'careos_cus_id', 'gender', 'email', 'date_of_birth', 'company_name', 'force_create']);
});

test('reader › a Thai Windows-874 (TIS-620) file, as Excel saves "CSV" on a Thai Windows, imports with its Thai names intact', async () => {
  const to874 = (text: string) => Buffer.from([...text].map((c) => {
    const code = c.codePointAt(0)!;
    return code >= 0x0e01 && code <= 0x0e5b ? code - 0x0e01 + 0xa1 : code;
  }));
  const target = path.join(dir, 'thai-windows.csv');
  fs.writeFileSync(target, to874(`${HEADER}\n,n7301,F,นภา,ศรีสวัสดิ์,,,0815550001,,\n,n7302,M,สมชาย,ใจดี,,,0815550002,,\n`));
  const view = await t.run(target, 'nana');
  assert.equal([view.status, view.totalRows, view.importedRows], ['Success', 2, 2]);
  const { rows } = await t.app.pool.query<{ name: string }>("select firstname || ' ' || lastname as name from profile where import_id = $1 order by row_number", [view.importId]);
  assert.equal(rows.map((r) => r.name), ['นภา ศรีสวัสดิ์', 'สมชาย ใจดี']);
});

test.run();
