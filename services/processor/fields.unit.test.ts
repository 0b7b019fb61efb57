// The field rules of an imported customer-profile row, one test per rule.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkDateOfBirth,
  checkEmails,
  checkForceCreate,
  checkGender,
  checkIdList,
  checkPhones,
  checkRequiredText,
  homeE164,
  homePlanRead,
  libraryE164,
  parseCompanyList,
  splitList,
  type Checked,
} from './fields.ts';

const TODAY = '2025-06-15';

function codes<T>(result: Checked<T>): string[] {
  return result.reasons.map((r) => r.code);
}

function phones(raw: string): Checked<string[]> {
  return checkPhones(raw, { required: true });
}

// --- lists -------------------------------------------------------------------------------------

test('list › splits on commas and trims every item', () => {
  assert.equal(splitList(' n1 , n2,n3 '), ['n1', 'n2', 'n3']);
});

test('list › a blank value has no items', () => {
  assert.equal(splitList(''), []);
  assert.equal(splitList('   '), []);
});

test('list › keeps empty items so that they can be reported', () => {
  assert.equal(splitList('a,,b'), ['a', '', 'b']);
});

// --- required text -----------------------------------------------------------------------------

test('firstname › is required and stored trimmed', () => {
  assert.equal(checkRequiredText('firstname', '  Kanya '), { value: 'Kanya', reasons: [] });
  const blank = checkRequiredText('firstname', '   ');
  assert.equal(codes(blank), ['required']);
  assert.is(blank.reasons[0]!.field, 'firstname');
  assert.match(blank.reasons[0]!.message, 'firstname');
});

// --- id lists ----------------------------------------------------------------------------------

test('nana_cus_id › is a comma-separated list of trimmed ids', () => {
  assert.equal(checkIdList('nana_cus_id', 'n5001, n5002', { required: true }), { value: ['n5001', 'n5002'], reasons: [] });
});

test('nana_cus_id › collapses a repeated id, keeping the first order', () => {
  assert.equal(checkIdList('nana_cus_id', 'n2,n1,n2', { required: true }).value, ['n2', 'n1']);
});

test('nana_cus_id › rejects an empty item such as "a,,b"', () => {
  const result = checkIdList('nana_cus_id', 'a,,b', { required: true });
  assert.equal(codes(result), ['empty-item']);
  assert.equal(result.value, ['a', 'b']);
  assert.match(result.reasons[0]!.message, '"a,,b"');
});

test('nana_cus_id › is required when the field demands it', () => {
  assert.equal(codes(checkIdList('nana_cus_id', '', { required: true })), ['required']);
  assert.equal(codes(checkIdList('nana_cus_id', ' , ', { required: true })), ['required']);
});

test('careos_cus_id › may be empty when not required', () => {
  assert.equal(checkIdList('careos_cus_id', '', { required: false }), { value: [], reasons: [] });
});

// --- gender ------------------------------------------------------------------------------------

test('gender › accepts F or M, and empty as unknown', () => {
  assert.equal(checkGender(' F ').value, 'F');
  assert.equal(checkGender('M').value, 'M');
  assert.equal(checkGender(''), { value: null, reasons: [] });
});

test('gender › normalises lower-case f and m to upper case', () => {
  assert.equal(checkGender('f'), { value: 'F', reasons: [] });
  assert.equal(checkGender('m'), { value: 'M', reasons: [] });
});

test('gender › rejects anything other than F or M', () => {
  for (const raw of ['X', 'Female', 'FM', '0']) {
    const result = checkGender(raw);
    assert.equal(codes(result), ['invalid-gender'], raw);
    assert.match(result.reasons[0]!.message, `"${raw}"`);
  }
});

// --- date of birth -----------------------------------------------------------------------------

test('date_of_birth › accepts yyyy-mm-dd and empty', () => {
  assert.equal(checkDateOfBirth(' 1988-02-14 ', TODAY), { value: '1988-02-14', reasons: [] });
  assert.equal(checkDateOfBirth('', TODAY), { value: null, reasons: [] });
});

test('date_of_birth › rejects any other shape such as 14/02/1988 or 1988-2-14', () => {
  for (const raw of ['14/02/1988', '1988-2-14', '19880214', '1988-02-14T00:00:00Z', '١٩٨٨-٠٢-١٤']) {
    assert.equal(codes(checkDateOfBirth(raw, TODAY)), ['invalid-date'], raw);
  }
});

test('date_of_birth › rejects an impossible calendar date such as 1990-13-01', () => {
  for (const raw of ['1990-13-01', '1990-00-10', '1990-01-00', '1990-04-31', '2024-02-30']) {
    assert.equal(codes(checkDateOfBirth(raw, TODAY)), ['invalid-date'], raw);
  }
});

test('date_of_birth › rejects year 0000, which the calendar (and PostgreSQL) does not have; accepts 0001', () => {
  assert.equal(codes(checkDateOfBirth('0000-01-01', TODAY)), ['invalid-date']);
  assert.equal(codes(checkDateOfBirth('0001-01-01', TODAY)), []);
});

test('date_of_birth › accepts 29 February only in a leap year', () => {
  assert.equal(checkDateOfBirth('2024-02-29', TODAY).value, '2024-02-29');
  assert.equal(checkDateOfBirth('2000-02-29', TODAY).value, '2000-02-29');
  assert.equal(codes(checkDateOfBirth('2023-02-29', TODAY)), ['invalid-date']);
  assert.equal(codes(checkDateOfBirth('1900-02-29', TODAY)), ['invalid-date']);
});

test('date_of_birth › rejects a date after today, and accepts today', () => {
  assert.equal(codes(checkDateOfBirth('2025-06-16', TODAY)), ['future-date']);
  assert.equal(checkDateOfBirth('2025-06-15', TODAY).value, '2025-06-15');
});

// --- email -------------------------------------------------------------------------------------

test('email › may be empty', () => {
  assert.equal(checkEmails(''), { value: [], reasons: [] });
});

test('email › accepts each comma-separated address and lower-cases only the domain', () => {
  assert.equal(checkEmails('Suda.K@Example.CO.TH, wichai+shop@example.com'), {
    value: ['Suda.K@example.co.th', 'wichai+shop@example.com'],
    reasons: [],
  });
});

test('email › rejects each bad address on its own', () => {
  const result = checkEmails('suda@@example.com,ok@example.com,no-at.example.com');
  assert.equal(codes(result), ['invalid-email', 'invalid-email']);
  assert.equal(result.value, ['ok@example.com']);
  assert.match(result.reasons[0]!.message, '"suda@@example.com"');
  assert.match(result.reasons[1]!.message, '"no-at.example.com"');
});

test('email › rejects leading, trailing or double dots in the local part', () => {
  for (const raw of ['.suda@example.com', 'suda.@example.com', 'su..da@example.com']) {
    assert.equal(codes(checkEmails(raw)), ['invalid-email'], raw);
  }
});

test('email › rejects spaces and domains without a proper TLD or with bad labels', () => {
  for (const raw of ['su da@example.com', 'suda@example', 'suda@example.c', 'suda@-example.com', 'suda@example-.com', 'suda@exa_mple.com', 'suda@example.123']) {
    assert.equal(codes(checkEmails(raw)), ['invalid-email'], raw);
  }
});

test('email › rejects an empty item such as "a@x.com,,b@y.com"', () => {
  const result = checkEmails('a@example.com,,b@example.com');
  assert.equal(codes(result), ['empty-item']);
  assert.equal(result.value, ['a@example.com', 'b@example.com']);
});

// --- phone -------------------------------------------------------------------------------------

test('phone › numbers without + are read as Thai and must fit the Thai numbering plan', () => {
  assert.equal(phones('081-234-5678'), { value: ['+66812345678'], reasons: [] });
  assert.equal(phones('02-123-4567'), { value: ['+6621234567'], reasons: [] });
  for (const raw of ['012345678', '0712345678', '14155552671']) {
    const result = phones(raw);
    assert.equal(codes(result), ['invalid-phone'], raw);
    assert.equal(result.reasons[0]!.field, 'phone');
  }
  assert.is(
    phones('0712345678').reasons[0]!.message,
    'phone "0712345678" is not a valid phone number (numbers without + are read as Thai, e.g. 081-234-5678 or 02-123-4567)',
  );
});

test('phone › the same Thai number in national, international and bare country-code form is one E.164 number', () => {
  for (const raw of ['+66812345678', '66812345678', '0812345678', '+66 81 234 5678']) {
    assert.equal(phones(raw).value, ['+66812345678'], raw);
  }
});

test('phone › numbers with + are checked against their own country', () => {
  assert.equal(phones('+14155552671'), { value: ['+14155552671'], reasons: [] });
  assert.equal(phones('+44 20 7946 0958').value, ['+442079460958']);
  assert.equal(codes(phones('+1 415 555')), ['invalid-phone']);
});

test('phone › the fast path for Thai numbers decides exactly as libphonenumber, over every 4-digit prefix, length and form', () => {
  assert.ok(homePlanRead, 'libphonenumber no longer exposes the Thai plan: the fast path is off');
  // A fixed-seed generator (xorshift32), so a failure names a number that fails again.
  let seed = 0x2545f491;
  const digit = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return String((seed >>> 0) % 10);
  };
  const suffix = (length: number) => Array.from({ length }, digit).join('');
  let fast = 0;
  let cases = 0;
  // Whatever the fast path leaves (undefined) goes to libphonenumber as before; whatever it takes
  // must be libphonenumber's answer too.
  const compare = (dialled: string) => {
    cases++;
    const quick = homeE164(dialled);
    if (quick !== undefined) {
      fast++;
      assert.is(quick, libraryE164(dialled), `fast path on ${dialled}`);
    }
  };
  for (let prefix = 0; prefix < 10_000; prefix++) {
    const head = String(prefix).padStart(4, '0');
    for (let length = 6; length <= 11; length++) {
      const national = head + suffix(length - 4);
      for (const form of ['0', '+66', '66', '00', '+660', '+1']) compare(form + national);
    }
  }
  // Every number the fast path takes, libphonenumber takes the same way; it takes the common ones.
  assert.ok(fast > 10_000, `the fast path took ${fast} of ${cases} numbers`);
  // Everyday shapes, the edges of the 67x mobile ranges, toll-free numbers written after 0, 00 and
  // +66, and a 0 kept after +66 (libphonenumber drops it).
  const edges = ['0812345678', '+66812345678', '021234567', '+6621234567', '0671012345', '0671912345', '018001234567', '0019001234',
    '00018001234567', '+660018001234567', '+660812345678', '00812345678', '66812345678'];
  for (const dialled of edges) {
    assert.is(homeE164(dialled) ?? libraryE164(dialled), libraryE164(dialled), dialled);
  }
});

test('phone › accepts space, dash, dot and parentheses as separators', () => {
  assert.equal(phones('(02) 123.4567').value, ['+6621234567']);
  assert.equal(phones('081 234 5678').value, ['+66812345678']);
  assert.equal(phones('(+66) 81-234-5678').value, ['+66812345678']);
});

test('phone › rejects letters or other characters rather than extracting a number from text', () => {
  for (const raw of ['081-234-5678 ext 5', 'abc0812345678', '081-234-5678#', '081/234/5678', '08+12345678', '++66812345678']) {
    assert.equal(codes(phones(raw)), ['invalid-phone'], raw);
  }
});

test('phone › each bad number of a list is its own reason', () => {
  const result = phones('0812345678, 012345678, 0712345678');
  assert.equal(result.value, ['+66812345678']);
  assert.equal(codes(result), ['invalid-phone', 'invalid-phone']);
  assert.match(result.reasons[0]!.message, '"012345678"');
  assert.match(result.reasons[1]!.message, '"0712345678"');
});

test('phone › collapses the same number written in different formats, keeping the first order', () => {
  assert.equal(phones('02-123-4567, 081-234-5678, +66812345678').value, ['+6621234567', '+66812345678']);
});

test('phone › is required when the field demands it', () => {
  assert.equal(codes(phones('')), ['required']);
  assert.equal(checkPhones('', { required: false }), { value: [], reasons: [] });
});

test('phone › rejects an empty item such as "0812345678,,021234567"', () => {
  const result = phones('0812345678,,021234567');
  assert.equal(codes(result), ['empty-item']);
  assert.equal(result.value, ['+66812345678', '+6621234567']);
});

test('mobile_phone › reasons name the field they were checked for', () => {
  assert.equal(checkPhones('0712345678', { required: true, field: 'mobile_phone' }).reasons[0]!.field, 'mobile_phone');
});

// --- company list ------------------------------------------------------------------------------

test('company_name › reads a quoted comma-separated list, keeping commas inside quotes', () => {
  assert.equal(parseCompanyList('"Rabbit Care Co., Ltd.", "Rabbit Internet Co., Ltd."'), {
    value: ['Rabbit Care Co., Ltd.', 'Rabbit Internet Co., Ltd.'],
    reasons: [],
  });
});

test('company_name › reads "" inside quotes as one quote', () => {
  assert.equal(parseCompanyList('"The ""Best"" Co., Ltd."').value, ['The "Best" Co., Ltd.']);
});

test('company_name › reads an unquoted name up to the next comma, trimmed', () => {
  assert.equal(parseCompanyList(' ADB Ltd , "My Company Co., Ltd."').value, ['ADB Ltd', 'My Company Co., Ltd.']);
});

test('company_name › may be empty, and empty items are dropped', () => {
  assert.equal(parseCompanyList(''), { value: [], reasons: [] });
  assert.equal(parseCompanyList('  '), { value: [], reasons: [] });
  assert.equal(parseCompanyList('"A",,"",  ,"B",').value, ['A', 'B']);
});

test('company_name › rejects an unterminated quote rather than mangling the list', () => {
  const result = parseCompanyList('"Rabbit Care Co., Ltd., "Rabbit Internet');
  assert.equal(codes(result), ['invalid-company-list']);
  assert.is(result.reasons[0]!.field, 'company_name');
  assert.equal(result.value, []);
});

test('company_name › rejects text after a closing quote', () => {
  assert.equal(codes(parseCompanyList('"Rabbit Care" Co., Ltd.')), ['invalid-company-list']);
});

// --- force create ------------------------------------------------------------------------------

test('force_create › empty means no, Y (or y) means yes', () => {
  assert.equal(checkForceCreate(''), { value: false, reasons: [] });
  assert.equal(checkForceCreate(' Y '), { value: true, reasons: [] });
  assert.equal(checkForceCreate('y'), { value: true, reasons: [] });
});

test('force_create › rejects anything other than Y or empty', () => {
  for (const raw of ['N', 'yes', '1', 'true']) {
    assert.equal(codes(checkForceCreate(raw)), ['invalid-force-create'], raw);
  }
});

test('date_of_birth › a Buddhist Era year is named as such, with the Gregorian date to write (2533-05-01 → 1990-05-01)', () => {
  const result = checkDateOfBirth('2533-05-01', TODAY);
  assert.equal(codes(result), ['buddhist-era-date']);
  assert.is(result.reasons[0]!.message, 'date_of_birth "2533-05-01" looks like a Buddhist Era year (2533 BE = 1990); write the Gregorian date 1990-05-01');
  // 29 February of BE 2535 is a real day (1992 is a leap year), though 2535 CE is not a leap year.
  assert.equal(result.value, null);
  assert.match(checkDateOfBirth('2535-02-29', TODAY).reasons[0]!.message, 'write the Gregorian date 1992-02-29');
  // A future date that is not a plausible BE date stays a future date.
  assert.equal(codes(checkDateOfBirth('2099-01-01', TODAY)), ['future-date']);
});

test.run();
