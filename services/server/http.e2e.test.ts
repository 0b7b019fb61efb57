// The HTTP API as scripts and browsers meet it, against a real `npm start` server (a child process
// on a fresh database, an upload limit of 256 KB): every malformed request is a 4xx problem+json,
// Thai file names survive, an upload over the limit is refused while it arrives, the headers every
// response carries, uploads readable by the server's user only, the role matrix of every route
// (bearer token and session cookie) and the CSRF rule, the start-up refusals (port in use,
// malformed CAREOS_API_TOKENS), and docs/api.md listing every route.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT, freePort, startTestServer, type TestServer } from '../../test/support/server.ts';
import { signIn } from '../auth/sessions.ts';
import { PERMISSIONS, ROLES, type Permission, type Role } from '../../schemas/api.ts';

const LIMIT = 256 * 1024;
const CAREOS_HEADER = 'careos_cus_id,firstname,lastname,phone,email,gender,date_of_birth';
/** One row imported, one rejected (its email is not an address). */
const GOOD_CSV = `${CAREOS_HEADER}\nC0900001,Somchai,Jaidee,0812223333,somchai@example.com,M,1980-05-01\nC0900002,Malee,Srisuk,0814445555,not-an-email,F,1990-01-01\n`;

let server: TestServer;
const cookies = {} as Record<Role, string>;
let importId = '';
let careosId = '';

type Caller = Role | 'anonymous';

interface Call {
  method?: string;
  headers?: Record<string, string>;
  body?: BodyInit;
  /** Authenticate with the role's session cookie instead of its bearer token. */
  cookie?: boolean;
}

function api(apiPath: string, who: Caller, call: Call = {}): Promise<Response> {
  const headers: Record<string, string> = { ...call.headers };
  if (who !== 'anonymous') {
    if (call.cookie) headers.cookie = cookies[who];
    else headers.authorization = `Bearer ${server.tokens[who]}`;
  }
  return fetch(`${server.url}${apiPath}`, { method: call.method ?? 'GET', headers, body: call.body, redirect: 'manual' });
}

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
}

async function expectProblem(response: Response, status: number, detail?: RegExp): Promise<Problem> {
  const text = await response.text();
  assert.is(response.status, status, `expected ${status}, got ${response.status}: ${text}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const problem = JSON.parse(text) as Problem;
  assert.is(problem.status, status);
  assert.type(problem.title, 'string');
  assert.type(problem.detail, 'string');
  if (detail) assert.match(problem.detail, detail);
  return problem;
}

interface Part {
  name: string;
  /** As written into the Content-Disposition header, raw (a UTF-8 name goes as its bytes). */
  filename?: string;
  /** RFC 5987 form instead: filename*=UTF-8''… */
  filenameStar?: string;
  content: string | Buffer;
  /** Replaces the whole Content-Disposition line (malformed headers). */
  disposition?: string | Buffer;
}

const BOUNDARY = 'careos-test-boundary-5f1c';

function multipart(parts: Part[], boundary = BOUNDARY): Uint8Array<ArrayBuffer> {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\n`));
    let disposition: string | Buffer = part.disposition ?? `Content-Disposition: form-data; name="${part.name}"`;
    if (!part.disposition && part.filename !== undefined) disposition += `; filename="${part.filename}"`;
    if (!part.disposition && part.filenameStar !== undefined) disposition += `; filename*=UTF-8''${encodeURIComponent(part.filenameStar)}`;
    chunks.push(Buffer.from(disposition), Buffer.from('\r\n'));
    if (part.filename !== undefined || part.filenameStar !== undefined) chunks.push(Buffer.from('Content-Type: text/csv\r\n'));
    chunks.push(Buffer.from('\r\n'), Buffer.from(part.content), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return new Uint8Array(Buffer.concat(chunks));
}

function upload(parts: Part[], who: Caller = 'admin', call: Call = {}): Promise<Response> {
  return api('/api/imports', who, {
    ...call, method: 'POST', body: multipart(parts),
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, ...call.headers },
  });
}

const fileParts = (fileName = 'customers.csv', content: string = GOOD_CSV): Part[] => [
  { name: 'source', content: 'careos' },
  { name: 'file', filename: fileName, content },
];

async function importCount(): Promise<number> {
  const response = await api('/api/imports?limit=1', 'admin');
  assert.is(response.status, 200);
  return Number(response.headers.get('x-total-count'));
}

interface ImportListed {
  importId: string;
  fileName: string;
  status: string;
  importedRows: number;
  rejectedRows: number;
}

async function waitForImport(id: string): Promise<ImportListed> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const response = await api(`/api/imports/${id}`, 'admin');
    assert.is(response.status, 200);
    const view = (await response.json()) as ImportListed;
    if (view.status !== 'In progress') return view;
    if (Date.now() > deadline) throw new Error(`import ${id} did not finish`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Writes raw bytes on a fresh connection and collects what comes back until the server closes it. */
function rawExchange(request: Buffer | string, timeoutMs = 5000): Promise<{ response: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(server.port, '127.0.0.1', () => socket.write(request));
    let response = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ response, closed: false });
    }, timeoutMs);
    socket.on('data', (chunk) => (response += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ response, closed: true });
    });
  });
}

function headerOf(rawResponse: string, name: string): string | undefined {
  const head = rawResponse.split('\r\n\r\n')[0]!;
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(line.indexOf(':') + 1).trim();
}

const incomingDir = () => path.join(server.dataDir, 'incoming');

test.before(async () => {
  server = await startTestServer({ CAREOS_MAX_FILE_BYTES: String(LIMIT), CAREOS_METRICS_TOKEN: 'scrape-token-0123456789' });
  for (const role of ROLES) {
    const { token } = await signIn(server.db.pool, { email: server.users[role].email, password: server.users[role].password, address: '127.0.0.1' });
    cookies[role] = `careos_session=${token}`;
  }
  const response = await upload(fileParts('baseline.csv'));
  assert.is(response.status, 202, await response.clone().text());
  importId = ((await response.json()) as { importId: string }).importId;
  const done = await waitForImport(importId);
  assert.is(done.importedRows, 1);
  assert.is(done.rejectedRows, 1);
  const profiles = (await (await api('/api/profiles?careosId=C0900001', 'admin')).json()) as { careosId: string }[];
  assert.is(profiles.length, 1);
  careosId = profiles[0]!.careosId;
});

test.after(async () => {
  await server?.stop();
});

// ── malformed uploads ──────────────────────────────────────────────────────────────────────────

test('upload › two files in one request are a 400 problem and start nothing', async () => {
  const before = await importCount();
  const response = await upload([...fileParts('a.csv'), { name: 'file', filename: 'b.csv', content: GOOD_CSV }]);
  await expectProblem(response, 400, /one file only/);
  assert.is(await importCount(), before);
});

test('upload › a file under another field name than "file" is a 400', async () => {
  await expectProblem(await upload([{ name: 'source', content: 'careos' }, { name: 'upload', filename: 'a.csv', content: GOOD_CSV }]), 400, /unexpected file field "upload"/);
});

test('upload › a text field other than "source" is a 400', async () => {
  await expectProblem(await upload([...fileParts(), { name: 'comment', content: 'hello' }]), 400, /unexpected multipart field "comment"/);
});

test('upload › a multipart Content-Type without a boundary is a 400', async () => {
  const response = await api('/api/imports', 'admin', { method: 'POST', headers: { 'content-type': 'multipart/form-data' }, body: multipart(fileParts()) });
  await expectProblem(response, 400, /boundary/i);
});

test('upload › a body whose parts do not use the declared boundary is a 400', async () => {
  const response = await api('/api/imports', 'admin', {
    method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=not-the-one-used' }, body: multipart(fileParts()),
  });
  await expectProblem(response, 400, /malformed multipart body/);
});

test('upload › a part header holding CR, LF or NUL is a 400', async () => {
  for (const bad of ['\r', '\n', '\u0000']) {
    const disposition = Buffer.from(`Content-Disposition: form-data; name="file"; filename="a${bad}b.csv"`);
    const response = await upload([{ name: 'source', content: 'careos' }, { name: 'file', disposition, content: GOOD_CSV }]);
    await expectProblem(response, 400, /malformed multipart body|control character/);
  }
});

test('upload › a file name that decodes to CR, LF or NUL (%0D%0A as browsers escape them, or filename*=…%00) is a 400', async () => {
  const before = await importCount();
  await expectProblem(await upload([{ name: 'source', content: 'careos' }, { name: 'file', filename: 'a%0D%0Ab.csv', content: GOOD_CSV }]), 400, /control character/);
  await expectProblem(await upload([{ name: 'source', content: 'careos' }, { name: 'file', filenameStar: 'a\u0000b.csv', content: GOOD_CSV }]), 400, /control character/);
  assert.is(await importCount(), before);
});

test('upload › a body that is not multipart is a 415, an empty body too', async () => {
  await expectProblem(await api('/api/imports', 'admin', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"source":"careos"}' }), 415);
  await expectProblem(await api('/api/imports', 'admin', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: GOOD_CSV }), 415);
  await expectProblem(await api('/api/imports', 'admin', { method: 'POST' }), 415);
});

test('upload › an empty multipart body is a 400', async () => {
  const response = await api('/api/imports', 'admin', { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, body: '' });
  await expectProblem(response, 400, /malformed multipart body/);
});

test('upload › a missing source, a source given twice and an unknown source are 400s', async () => {
  await expectProblem(await upload([{ name: 'file', filename: 'a.csv', content: GOOD_CSV }]), 400, /"source" is required/);
  await expectProblem(await upload([{ name: 'source', content: 'careos' }, ...fileParts()]), 400, /"source" must be given once/);
  await expectProblem(await upload([{ name: 'source', content: 'shopee' }, { name: 'file', filename: 'a.csv', content: GOOD_CSV }]), 400, /source must be one of/);
});

test('upload › a request without a file part is a 400', async () => {
  await expectProblem(await upload([{ name: 'source', content: 'careos' }]), 400, /multipart field "file"/);
  await expectProblem(await upload([{ name: 'source', content: 'careos' }, { name: 'file', content: GOOD_CSV }]), 400, /must be a file part/);
});

// ── malformed queries and ids ──────────────────────────────────────────────────────────────────

test('query › limit=-5, offset=1e309 and other numbers out of range are 400s', async () => {
  for (const query of ['limit=-5', 'offset=1e309', 'limit=0', 'limit=1001', 'limit=abc', 'offset=-1', 'limit=', 'limit=1.5']) {
    await expectProblem(await api(`/api/imports?${query}`, 'admin'), 400, /query parameter "(limit|offset)"/);
  }
  await expectProblem(await api('/api/profiles?q=somchai&limit=-5', 'admin'), 400, /"limit"/);
});

test('errors › without limit/offset every rejected row; with them one window, X-Total-Count the whole count; a bad window is a 400', async () => {
  const all = await api(`/api/imports/${importId}/errors`, 'bi');
  assert.is(all.status, 200);
  assert.is(all.headers.get('x-total-count'), '1');
  assert.equal(((await all.json()) as { row: number }[]).map((e) => e.row), [2]);
  const first = await api(`/api/imports/${importId}/errors?limit=1&offset=0`, 'bi');
  assert.equal(((await first.json()) as { row: number; record: Record<string, string> }[]).map((e) => [e.row, e.record.email]), [[2, 'not-an-email']]);
  const past = await api(`/api/imports/${importId}/errors?offset=1`, 'bi');
  assert.is(past.headers.get('x-total-count'), '1');
  assert.equal(await past.json(), []);
  await expectProblem(await api(`/api/imports/${importId}/errors?limit=0`, 'bi'), 400, /limit/);
  await expectProblem(await api(`/api/imports/${importId}/errors?limit=20000`, 'bi'), 400, /limit/);
});

test('errors › status=open|resolved filters the error log and the error file; any other status is a 400', async () => {
  const open = await api(`/api/imports/${importId}/errors?status=open`, 'bi');
  assert.is(open.status, 200);
  assert.equal(((await open.json()) as { row: number }[]).map((e) => e.row), [2]);
  const resolved = await api(`/api/imports/${importId}/errors?status=resolved&limit=10`, 'bi');
  assert.equal([resolved.status, resolved.headers.get('x-total-count')], [200, '0']);
  await resolved.arrayBuffer();
  const file = await (await api(`/api/imports/${importId}/errors.csv?status=open`, 'bi')).text();
  assert.match(file, new RegExp(`^${CAREOS_HEADER},_replay_of,errors\r\n.*,${importId}:2,`));
  await expectProblem(await api(`/api/imports/${importId}/errors?status=closed`, 'bi'), 400, /status must be all, open or resolved/);
  await expectProblem(await api(`/api/imports/${importId}/errors.csv?status=`, 'bi'), 400, /status must be all, open or resolved/);
});

test('audit › asOf that is not an ISO-8601 instant, a timeline without what to trace, and a fix of a row that is not a number are 400s', async () => {
  await expectProblem(await api(`/api/relations?careosId=${careosId}&asOf=yesterday`, 'auditor'), 400, /asOf must be an ISO-8601 date and time/);
  await expectProblem(await api('/api/audit/timeline', 'auditor'), 400, /give careosId, or source and originalId/);
  await expectProblem(await api('/api/audit/timeline?source=nana', 'auditor'), 400, /give source and originalId together/);
  const fix = (row: string, body: string) => api(`/api/imports/${importId}/errors/${row}/fix`, 'bi', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  await expectProblem(await fix('abc', '{"values":{}}'), 400, /row must be a row number/);
  await expectProblem(await fix('2', '{"values":{"nickname":"x"}}'), 400, /"nickname" is not a column of this import/);
  await expectProblem(await fix('1', '{"values":{}}'), 404, /row 1 of import .* is not a rejected row/);
  const asOf = await api(`/api/relations?careosId=${careosId}&asOf=2000-01-01T00:00:00Z`, 'auditor');
  assert.equal(await asOf.json(), [], 'nothing was linked in 2000');
});

test('fix › a value PostgreSQL cannot store — a NUL, a lone surrogate, over 500 characters — is a 422 naming the field and the value, and starts nothing', async () => {
  const fix = (body: string) => api(`/api/imports/${importId}/errors/2/fix`, 'bi', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  const imports = async () => Number((await api('/api/imports', 'admin')).headers.get('x-total-count'));
  const before = await imports();
  const cases: [string, RegExp, string][] = [
    ['{"values":{"firstname":"Nul\\u0000Byte","email":"malee@example.com"}}', /firstname "Nul\\u0000Byte" holds a NUL character \(U\+0000, at character 4\), which cannot be stored; remove it/, 'firstname'],
    ['{"values":{"lastname":"Half\\ud83d","email":"malee@example.com"}}', /lastname "Half\\ud83d" holds half of a UTF-16 surrogate pair \(U\+D83D, at character 5\) without its other half/, 'lastname'],
    [JSON.stringify({ values: { firstname: 'M'.repeat(600), email: 'malee@example.com' } }), /firstname is 600 characters long \("M{60}"…\); at most 500 characters are accepted/, 'firstname'],
  ];
  for (const [body, detail, field] of cases) {
    const problem = (await expectProblem(await fix(body), 422, detail)) as Problem & { reasons?: { field: string; code: string }[] };
    assert.equal(problem.reasons?.map((r) => [r.field, r.code]), [[field, 'unstorable']]);
  }
  assert.is(await imports(), before, 'nothing was started');
});

test('replay › a row rejected for a NUL is not sent again unchanged (its error-log copy has U+FFFD): a 422 saying to fix it, the copy left unfixed is a 422 too; fixed, it is replayed', async () => {
  const response = await upload(fileParts('nul.csv', `${CAREOS_HEADER}\nC0900201,Nul\u0000Byte,Jaidee,0812229999,nul@example.com,M,1980-05-01\n`));
  assert.is(response.status, 202, await response.clone().text());
  const nulImport = ((await response.json()) as { importId: string }).importId;
  const done = await waitForImport(nulImport);
  assert.equal([done.status, done.rejectedRows], ['Failed', 1]);
  const post = (route: string, body: string) => api(`/api/imports/${nulImport}/errors/${route}`, 'bi', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  await expectProblem(await post('replay', '{"rows":[1]}'), 422, /row 1 was rejected because a value could not be stored .*send it fixed \(Replay fixed row\), not unchanged/);
  await expectProblem(await post('1/fix', '{"values":{}}'), 422, /firstname "Nul\uFFFDByte" is the error log's copy of a value that could not be stored/);
  const fixed = await post('1/fix', '{"values":{"firstname":"Somsak"}}');
  assert.is(fixed.status, 202, await fixed.clone().text());
  const replay = await waitForImport(((await fixed.json()) as { importId: string }).importId);
  assert.equal([replay.status, replay.importedRows], ['Success', 1]);
});

test('reasons › a revert or onboarding reason holding a lone surrogate (not a character: PostgreSQL cannot store it in JSON) is a 400 that says so', async () => {
  const json = { 'content-type': 'application/json' };
  await expectProblem(await api(`/api/imports/${importId}/revert`, 'admin', { method: 'POST', body: '{"reason":"oops\\ud83d"}', headers: json }), 400, /reason holds half of a UTF-16 surrogate pair/);
  await expectProblem(await api('/api/onboarding/nana', 'admin', { method: 'POST', body: '{"complete":false,"reason":"oops\\udc00"}', headers: json }), 400, /reason holds half of a UTF-16 surrogate pair/);
});

test('revert › a reason is required (400), JSON only (415), an unknown import is a 404; an import of its own reverted: 200 Reverted, asked again a 409 that says why', async () => {
  const revert = (id: string, body: string, type = 'application/json') => api(`/api/imports/${id}/revert`, 'admin', { method: 'POST', body, headers: { 'content-type': type } });
  await expectProblem(await revert(importId, '{}'), 400, /reason is required/);
  await expectProblem(await revert(importId, '{"reason":"   "}'), 400, /reason is required/);
  await expectProblem(await revert(importId, `{"reason":"${'x'.repeat(501)}"}`), 400, /longer than 500/);
  await expectProblem(await revert(importId, 'reason=oops', 'application/x-www-form-urlencoded'), 415);
  await expectProblem(await revert('no-such-import', '{"reason":"x"}'), 404);
  await expectProblem(await api('/api/imports/no-such-import/revert', 'admin'), 404);

  const started = await upload(fileParts('to-revert.csv', `${CAREOS_HEADER}\nC0900101,Revert,Me,0812229101,,,\n`));
  assert.is(started.status, 202);
  const { importId: own } = await started.json() as { importId: string };
  await waitForImport(own);
  const preview = await (await api(`/api/imports/${own}/revert`, 'admin')).json() as { profilesRetired: number; relationsReverted: number; refusal: string | null };
  assert.equal([preview.profilesRetired, preview.relationsReverted, preview.refusal], [1, 0, null]);
  const done = await revert(own, '{"reason":"uploaded by mistake"}');
  assert.is(done.status, 200);
  const view = await done.json() as { status: string; revert: { state: string; reason: string; requestedBy: string; profilesRetired: number } };
  assert.equal([view.status, view.revert.state, view.revert.reason, view.revert.profilesRetired], ['Reverted', 'reverted', 'uploaded by mistake', 1]);
  await expectProblem(await revert(own, '{"reason":"again"}'), 409, /was reverted already/);
  assert.equal(await (await api('/api/profiles?careosId=C0900101', 'admin')).json(), [], 'a retired profile is not listed');
  const profile = await (await api('/api/profiles/C0900101', 'auditor')).json() as { retired: { by: string } | null };
  assert.is(profile.retired?.by, 'script-admin', 'its page still shows it, retired, and who did it');
});

test('rebuild › POST starts it (202, running, who), a second while it runs is a 409; it ends done with every event applied and the import log as it was', async () => {
  const before = await (await api('/api/imports?limit=1000', 'admin')).json();
  const started = await api('/api/rebuild', 'admin', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  assert.is(started.status, 202);
  const { rebuild } = await started.json() as { rebuild: { state: string; startedBy: string; fraction: number | null } };
  assert.equal([rebuild.state, rebuild.startedBy], ['running', 'script-admin']);
  const again = await api('/api/rebuild', 'admin', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  // Either still running (409, naming it) or already done on a small store (202, a new one).
  if (again.status === 409) await expectProblem(again, 409, /a rebuild is running already \(started by script-admin/);
  else assert.is(again.status, 202);
  await waitForRebuild();
  const { rebuild: done, history } = await (await api('/api/rebuild', 'admin')).json() as {
    rebuild: { state: string; fraction: number; applied: number; finishedAt: string };
    history: { state: string; startedBy: string; applied: number; finishedAt: string | null; finishedAfterRestart: boolean }[];
  };
  assert.equal([done.state, done.fraction], ['done', 1]);
  assert.ok(done.applied > 0 && done.finishedAt !== null);
  // Kept in the database, newest first: the one just ended is there as the server reported it.
  assert.equal([history[0]?.state, history[0]?.startedBy, history[0]?.applied, history[0]?.finishedAfterRestart], ['done', 'script-admin', done.applied, false]);
  assert.equal(await (await api('/api/imports?limit=1000', 'admin')).json(), before);
});

test('ids › a NUL byte or a control character in a path id is a 400 on every route that takes one', async () => {
  for (const routePath of ['/api/imports/a%00b', '/api/imports/a%00b/errors', '/api/imports/a%00b/errors.csv', '/api/profiles/C09%00', '/api/imports/a%0Ab']) {
    await expectProblem(await api(routePath, 'admin'), 400, /control character/);
  }
});

test('ids › a path id that is not valid percent-encoding is a 400', async () => {
  await expectProblem(await api('/api/imports/%E0%A4%A', 'admin'), 400);
  await expectProblem(await api('/api/profiles/%ZZ', 'admin'), 400);
});

test('query › a NUL byte in a query value is a 400', async () => {
  for (const routePath of ['/api/profiles?careosId=a%00b', '/api/profiles?q=a%00b', '/api/profiles?phone=081%00', '/api/relations?careosId=a%00b', '/api/relations?source=nana&originalId=n%00']) {
    await expectProblem(await api(routePath, 'admin'), 400, /NUL/);
  }
});

test('query › a parameter given twice is a 400, never a dropped filter', async () => {
  for (const routePath of [
    '/api/profiles?careosId=a&careosId=b', `/api/profiles?careosId=${careosId}&careosId=${careosId}`, '/api/profiles?q=a&q=b',
    '/api/relations?careosId=a&careosId=b', '/api/imports?limit=1&limit=2',
  ]) {
    await expectProblem(await api(routePath, 'admin'), 400, /given 2 times/);
  }
});

test('query › an unknown parameter and a query string that is not valid percent-encoding are 400s', async () => {
  await expectProblem(await api('/api/profiles?careosid=C0900001', 'admin'), 400, /unknown query parameter "careosid"/);
  await expectProblem(await api('/api/profiles?careosId[0]=a', 'admin'), 400, /unknown query parameter/);
  await expectProblem(await api('/api/imports/x?verbose=1', 'admin'), 400, /unknown query parameter "verbose"/);
  await expectProblem(await api('/api/profiles?careosId=%E0%A4%A', 'admin'), 400, /percent-encoded/);
  await expectProblem(await api('/api/profiles?q=somchai&careosId=C0900001', 'admin'), 400, /not both/);
});

test('routes › another method on a known route is a 405 with Allow; an unknown /api route is a 404', async () => {
  const response = await api('/api/imports', 'admin', { method: 'DELETE' });
  assert.is(response.headers.get('allow'), 'GET, POST, HEAD');
  await expectProblem(response, 405);
  await expectProblem(await api('/api/imports/x', 'admin', { method: 'PUT', body: '{}' }), 405);
  await expectProblem(await api('/api/nothing-here', 'admin'), 404);
});

// ── file names, limits, stored files ───────────────────────────────────────────────────────────

test('upload › a Thai file name sent as raw UTF-8 bytes (as browsers send it) is kept as written in the import log', async () => {
  const response = await upload(fileParts('ลูกค้า.csv'));
  assert.is(response.status, 202, await response.clone().text());
  const { importId: id } = (await response.json()) as { importId: string };
  assert.is((await waitForImport(id)).fileName, 'ลูกค้า.csv');
  const listed = (await (await api('/api/imports?limit=100', 'admin')).json()) as ImportListed[];
  assert.is(listed.find((i) => i.importId === id)?.fileName, 'ลูกค้า.csv');
});

test('upload › a Thai file name sent in the RFC 5987 form filename*=UTF-8\'\'… is kept as written', async () => {
  const response = await upload([{ name: 'source', content: 'careos' }, { name: 'file', filenameStar: 'ลูกค้า ใหม่.csv', content: GOOD_CSV }]);
  assert.is(response.status, 202, await response.clone().text());
  const { importId: id } = (await response.json()) as { importId: string };
  assert.is((await waitForImport(id)).fileName, 'ลูกค้า ใหม่.csv');
});

test('upload › a declared Content-Length over the limit is a 413 before the body is sent, and the connection is closed', async () => {
  const before = await importCount();
  const started = Date.now();
  const { response, closed } = await rawExchange(
    `POST /api/imports HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${server.tokens.admin}\r\n` +
    `Content-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${3 * 1024 * 1024 * 1024}\r\n\r\n`,
  );
  assert.ok(closed, `the connection stayed open; got: ${response}`);
  assert.ok(Date.now() - started < 4000);
  assert.match(response, /^HTTP\/1\.1 413 /);
  assert.is(headerOf(response, 'connection'), 'close');
  assert.match(headerOf(response, 'content-type') ?? '', /^application\/problem\+json/);
  assert.is(await importCount(), before);
});

test('upload › a chunked body is answered 413 as soon as the file passes the limit, the connection closed before the rest is sent', async () => {
  const socket = net.connect(server.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let response = '';
  let sentWhenAnswered = -1;
  let sent = 0;
  let closed = false;
  socket.on('data', (chunk) => {
    if (sentWhenAnswered < 0) sentWhenAnswered = sent;
    response += chunk;
  });
  socket.on('error', () => undefined); // writing after the server closed: EPIPE/ECONNRESET
  socket.on('close', () => (closed = true));
  const chunk = (data: string | Buffer) => Buffer.concat([Buffer.from(`${Buffer.byteLength(data).toString(16)}\r\n`), Buffer.from(data), Buffer.from('\r\n')]);
  socket.write(
    `POST /api/imports HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${server.tokens.admin}\r\n` +
    `Content-Type: multipart/form-data; boundary=${BOUNDARY}\r\nTransfer-Encoding: chunked\r\n\r\n`,
  );
  socket.write(chunk(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="source"\r\n\r\ncareos\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n${CAREOS_HEADER}\n`));
  const total = 16 * 1024 * 1024; // 64 times the limit, sent slowly: 16 KB every 5 ms
  const line = Buffer.alloc(16 * 1024, 'x');
  while (sent < total && !closed && sentWhenAnswered < 0) {
    socket.write(chunk(line));
    sent += line.length;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  for (let i = 0; i < 100 && !closed; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  socket.destroy();
  assert.ok(sentWhenAnswered > 0, 'no answer came');
  assert.ok(sentWhenAnswered < LIMIT + 512 * 1024, `answered only after ${sentWhenAnswered} bytes of file (limit ${LIMIT})`);
  assert.ok(sentWhenAnswered < total);
  assert.ok(closed, 'the server did not close the connection');
  assert.match(response, /^HTTP\/1\.1 413 /);
  assert.is(headerOf(response, 'connection'), 'close');
  assert.match(response, /over the 256 KB limit/);
  // The part received so far is removed.
  for (let i = 0; i < 50 && fs.readdirSync(incomingDir()).length; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(fs.readdirSync(incomingDir()), []);
});

test('uploads › a file being received is mode 0600 in a 0700 directory, and removed when the client gives up', async () => {
  const socket = net.connect(server.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.on('error', () => undefined);
  const head = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="source"\r\n\r\ncareos\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="slow.csv"\r\n\r\n${CAREOS_HEADER}\n`;
  socket.write(
    `POST /api/imports HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${server.tokens.admin}\r\n` +
    `Content-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${head.length + 100_000}\r\n\r\n${head}`,
  );
  socket.write(Buffer.alloc(20_000, 'y'));
  let files: string[] = [];
  for (let i = 0; i < 100 && !files.length; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    files = fs.readdirSync(incomingDir());
  }
  assert.is(files.length, 1, 'the upload in flight is not in the incoming directory');
  assert.is(fs.statSync(path.join(incomingDir(), files[0]!)).mode & 0o777, 0o600);
  assert.is(fs.statSync(incomingDir()).mode & 0o777, 0o700);
  socket.destroy();
  for (let i = 0; i < 100 && fs.readdirSync(incomingDir()).length; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(fs.readdirSync(incomingDir()), []);
});

test('uploads › the stored copy is kept in PostgreSQL, where every server reads it, never on the receiving server\'s disk; dropped once read', async () => {
  assert.not.ok(fs.existsSync(path.join(server.dataDir, 'uploads')), 'a copy was written under the data directory');
  const headers = { authorization: `Bearer ${server.tokens.admin}` };
  let view = { totalRows: null as number | null };
  for (let i = 0; i < 200 && view.totalRows === null; i++) {
    view = (await (await fetch(`${server.url}/api/imports/${importId}`, { headers })).json()) as { totalRows: number | null };
    if (view.totalRows === null) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(view.totalRows !== null, 'the import was read');
  const { rows } = await server.db.pool.query<{ n: number }>('select count(*)::int as n from upload_chunk where import_id = $1', [importId]);
  assert.is(rows[0]!.n, 0, 'the copy of a file read to its end is dropped');
});

// ── headers ────────────────────────────────────────────────────────────────────────────────────

test('auth › "Authorization: bearer …" is accepted in any letter case', async () => {
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
    const response = await fetch(`${server.url}/api/me`, { headers: { authorization: `${scheme} ${server.tokens.bi}` } });
    assert.is(response.status, 200, scheme);
    assert.is(((await response.json()) as { role: string }).role, 'bi');
  }
});

test('auth › a 401 carries WWW-Authenticate: Bearer', async () => {
  const anonymous = await fetch(`${server.url}/api/imports`);
  assert.is(anonymous.headers.get('www-authenticate'), 'Bearer realm="careos"');
  await expectProblem(anonymous, 401);
  const wrongToken = await fetch(`${server.url}/api/imports`, { headers: { authorization: 'Bearer not-a-token-of-ours-at-all' } });
  assert.match(wrongToken.headers.get('www-authenticate') ?? '', /^Bearer realm="careos", error="invalid_token"$/);
  await expectProblem(wrongToken, 401);
  const basic = await fetch(`${server.url}/api/imports`, { headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } });
  assert.match(basic.headers.get('www-authenticate') ?? '', /^Bearer /);
  await expectProblem(basic, 401);
  const expired = await fetch(`${server.url}/api/imports`, { headers: { cookie: 'careos_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
  assert.match(expired.headers.get('www-authenticate') ?? '', /^Bearer /);
  await expectProblem(expired, 401);
});

function assertSecurityHeaders(response: Response | Headers, what: string): void {
  const headers = response instanceof Headers ? response : response.headers;
  assert.is(headers.get('x-content-type-options'), 'nosniff', what);
  assert.match(headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, what);
  assert.ok(headers.get('referrer-policy'), `${what}: no Referrer-Policy`);
}

test('headers › every API response says Cache-Control: no-store', async () => {
  const responses: [string, Response][] = [
    ['health', await fetch(`${server.url}/api/health`)],
    ['list', await api('/api/imports', 'bi')],
    ['one import', await api(`/api/imports/${importId}`, 'auditor')],
    ['error file', await api(`/api/imports/${importId}/errors.csv`, 'bi')],
    ['profile', await api(`/api/profiles/${careosId}`, 'auditor', { cookie: true })],
    ['401', await fetch(`${server.url}/api/imports`)],
    ['403', await api('/api/profiles', 'bi')],
    ['404', await api('/api/imports/no-such-import', 'admin')],
    ['400', await api('/api/imports?limit=-5', 'admin')],
    ['202', await upload(fileParts('cache.csv'))],
  ];
  for (const [what, response] of responses) {
    assert.is(response.headers.get('cache-control'), 'no-store', what);
    assertSecurityHeaders(response, what);
    await response.arrayBuffer();
  }
});

test('headers › every response — API, pages, static assets, errors — has nosniff, a CSP with frame-ancestors \'none\' and a Referrer-Policy', async () => {
  for (const url of ['/', '/login', '/favicon.svg', '/no-such-page', '/api/health', '/api/me', `/api/imports/${importId}`]) {
    const response = await fetch(`${server.url}${url}`, { redirect: 'manual' });
    await response.arrayBuffer();
    assertSecurityHeaders(response, url);
  }
  // Not even HTTP: Node's parser refuses it, and the answer still carries the headers.
  const { response } = await rawExchange('NOT HTTP AT ALL\r\n\r\n');
  assert.match(response, /^HTTP\/1\.1 400 /);
  const headers = new Headers();
  for (const name of ['x-content-type-options', 'content-security-policy', 'referrer-policy']) headers.set(name, headerOf(response, name) ?? '');
  assertSecurityHeaders(headers, 'unparseable request');
});

// ── Care Shop: the Nana gate and the sync ─────────────────────────────────────────────────────

const CARESHOP_CSV = 'customer_id,firstname,lastname,mobile_phone,email\nCS-9001,Kanya,Rattanakul,0817771111,\n';

test('careshop › a Care Shop file before Nana onboarding is marked complete is a 409 that says why, and starts nothing', async () => {
  const before = await importCount();
  const response = await upload([{ name: 'source', content: 'careshop' }, { name: 'file', filename: 'shop.csv', content: CARESHOP_CSV }]);
  await expectProblem(response, 409, /until Nana onboarding is marked complete/);
  await expectProblem(await api('/api/careshop/sync', 'admin', { method: 'POST' }), 409, /until Nana onboarding is marked complete/);
  assert.is(await importCount(), before);
  const gate = await (await api('/api/onboarding/nana', 'bi')).json() as { complete: boolean; careshopRefusal: string | null };
  assert.equal(gate.complete, false);
  assert.match(gate.careshopRefusal ?? '', /until Nana onboarding is marked complete/);
});

test('onboarding › the mark takes a small JSON object: 415 not JSON, 400 malformed or unknown fields or a reopen without reason, 413 over 16 KB', async () => {
  const post = (body: string, type = 'application/json') => api('/api/onboarding/nana', 'admin', { method: 'POST', body, headers: { 'content-type': type } });
  await expectProblem(await post('complete=true', 'application/x-www-form-urlencoded'), 415, /application\/json/);
  await expectProblem(await post('{"complete": tru'), 400, /not valid JSON/);
  await expectProblem(await post('[true]'), 400, /JSON object/);
  await expectProblem(await post('{"complete": "yes"}'), 400, /complete must be true/);
  await expectProblem(await post('{"complete": true, "by": "someone"}'), 400, /unknown field "by"/);
  await expectProblem(await post('{"complete": false}'), 400, /reason is required/);
  await expectProblem(await post(JSON.stringify({ complete: true, reason: 'x'.repeat(17_000) })), 413);
  await expectProblem(await post('{"complete": false, "reason": "never marked"}'), 409, /already open/);
});

test('careshop › once marked complete a sync runs: 202, an import with origin table; the history log names each record\'s outcome', async () => {
  await server.shop.pool.query(
    `insert into customer (customer_id, firstname, lastname, mobile_phone, email) values
       ('CS-0001', 'Somchai', 'Jaidee', '081-222-3333', null), ('CS-0002', 'Napa', 'Boonmee', '0815556666', 'napa@example.com'),
       ('CS-0003', 'Bad', 'Phone', '0712345678', null)`,
  );
  const marked = await markOnboarding({ complete: true, reason: 'all Nana files are in' });
  assert.is(marked.status, 200, await marked.clone().text());
  const gate = await marked.json() as { complete: boolean; marks: { by: string; byName: string; reason: string }[]; careshopRefusal: string | null };
  assert.equal([gate.complete, gate.careshopRefusal, gate.marks[0]!.by, gate.marks[0]!.reason], [true, null, 'script-admin', 'all Nana files are in']);
  const started = await api('/api/careshop/sync', 'admin', { method: 'POST' });
  assert.is(started.status, 202, await started.clone().text());
  const { importId: syncId } = await started.json() as { importId: string };
  const done = await waitForImport(syncId) as ImportListed & { origin: string; skippedRows: number; totalRows: number };
  // CS-0001 has the baseline's phone and names (skipped), CS-0002 is new, CS-0003's number is not Thai.
  assert.equal([done.origin, done.status, done.totalRows, done.importedRows, done.rejectedRows, done.skippedRows], ['table', 'Failed', 3, 1, 1, 1]);
  const history = await api(`/api/careshop/history?importId=${syncId}`, 'auditor');
  assert.is(history.headers.get('x-total-count'), '3');
  const entries = await history.json() as { originalId: string; outcome: string; careosId: string | null }[];
  assert.equal(entries.map((e) => [e.originalId, e.outcome]), [['CS-0001', 'matched'], ['CS-0002', 'created'], ['CS-0003', 'rejected']]);
  assert.is(entries[0]!.careosId, careosId);
});

// ── roles and CSRF ─────────────────────────────────────────────────────────────────────────────

interface MatrixRoute {
  method: 'GET' | 'POST';
  path: () => string;
  /** null: any signed-in caller. */
  permission: Permission | null;
  ok: number;
  /** A JSON body (POST routes that take one; the others get an upload). */
  json?: unknown;
  /** Puts things back after an allowed call (so the next matrix run finds the same state). */
  after?: () => Promise<void>;
}

async function markOnboarding(body: unknown): Promise<Response> {
  return api('/api/onboarding/nana', 'admin', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
}

async function waitForReplays(): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const imports = await (await api('/api/imports?limit=20', 'admin')).json() as { status: string }[];
    if (!imports.some((item) => item.status === 'In progress')) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('a replay did not finish');
}

async function waitForSyncs(): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const imports = await (await api('/api/imports?limit=20', 'admin')).json() as { source: string; status: string }[];
    if (!imports.some((item) => item.source === 'careshop' && item.status === 'In progress')) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('a Care Shop sync did not finish');
}

async function waitForRebuild(): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const { rebuild } = await (await api('/api/rebuild', 'admin')).json() as { rebuild: { state: string; error: string | null } | null };
    if (rebuild && rebuild.state !== 'running') {
      assert.is(rebuild.state, 'done', rebuild.error ?? '');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('a rebuild did not finish');
}

const MATRIX: MatrixRoute[] = [
  { method: 'GET', path: () => '/api/me', permission: null, ok: 200 },
  { method: 'GET', path: () => '/api/imports', permission: 'imports.read', ok: 200 },
  { method: 'POST', path: () => '/api/imports', permission: 'imports.create', ok: 202 },
  { method: 'GET', path: () => `/api/imports/${importId}`, permission: 'imports.read', ok: 200 },
  { method: 'GET', path: () => `/api/imports/${importId}/errors`, permission: 'errors.read', ok: 200 },
  { method: 'GET', path: () => `/api/imports/${importId}/errors.csv`, permission: 'errors.read', ok: 200 },
  { method: 'GET', path: () => `/api/profiles?careosId=${careosId}`, permission: 'profiles.read', ok: 200 },
  { method: 'GET', path: () => `/api/profiles/${careosId}`, permission: 'profiles.read', ok: 200 },
  { method: 'GET', path: () => `/api/relations?careosId=${careosId}`, permission: 'relations.read', ok: 200 },
  { method: 'GET', path: () => `/api/audit/timeline?careosId=${careosId}`, permission: 'relations.read', ok: 200 },
  { method: 'GET', path: () => `/api/audit/timeline.csv?careosId=${careosId}`, permission: 'relations.read', ok: 200 },
  { method: 'POST', path: () => `/api/imports/${importId}/errors/replay`, permission: 'errors.replay', ok: 202, json: { rows: [2] } },
  // Still invalid: the checks refuse it (422) for the roles that may replay; the others never get that far.
  { method: 'POST', path: () => `/api/imports/${importId}/errors/2/fix`, permission: 'errors.replay', ok: 422, json: { values: { email: 'still-not-an-address' } } },
  { method: 'GET', path: () => `/api/imports/${importId}/revert`, permission: 'imports.revert', ok: 200 },
  // Without a reason: refused (400) for the roles that may revert; the others never get that far. Nothing is reverted.
  { method: 'POST', path: () => `/api/imports/${importId}/revert`, permission: 'imports.revert', ok: 400, json: { reason: '' } },
  { method: 'GET', path: () => '/api/onboarding/nana', permission: 'imports.read', ok: 200 },
  { method: 'GET', path: () => '/api/rebuild', permission: 'readmodels.rebuild', ok: 200 },
  { method: 'POST', path: () => '/api/rebuild', permission: 'readmodels.rebuild', ok: 202, json: {}, after: waitForRebuild },
  {
    method: 'POST', path: () => '/api/onboarding/nana', permission: 'onboarding.mark', ok: 200, json: { complete: false, reason: 'role matrix' },
    after: async () => assert.is((await markOnboarding({ complete: true })).status, 200),
  },
  { method: 'POST', path: () => '/api/careshop/sync', permission: 'imports.create', ok: 202, json: {}, after: waitForSyncs },
  { method: 'GET', path: () => `/api/careshop/history?importId=${importId}`, permission: 'imports.read', ok: 200 },
];

function expected(route: MatrixRoute, who: Caller): number {
  if (who === 'anonymous') return 401;
  if (route.permission === null) return route.ok;
  return (PERMISSIONS[route.permission] as readonly Role[]).includes(who) ? route.ok : 403;
}

async function matrix(cookie: boolean): Promise<void> {
  const failures: string[] = [];
  for (const route of MATRIX) {
    for (const who of ['anonymous', ...ROLES] as Caller[]) {
      const call: Call = { method: route.method, cookie };
      if (route.json !== undefined) {
        call.body = JSON.stringify(route.json);
        call.headers = { 'content-type': 'application/json', origin: server.url };
      } else if (route.method === 'POST') {
        call.body = multipart(fileParts('matrix.csv'));
        call.headers = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, origin: server.url };
      }
      const response = await api(route.path(), who, call);
      const want = expected(route, who);
      if (response.status !== want) failures.push(`${route.method} ${route.path()} as ${who}: ${response.status}, expected ${want}: ${await response.text()}`);
      else if (want >= 400 || response.status >= 400) await expectProblem(response, want);
      else await response.arrayBuffer();
      if (response.status < 400) await route.after?.();
      if (route.method === 'POST' && route.path().includes('/errors/') && response.status === 202) await waitForReplays();
    }
  }
  assert.equal(failures, []);
}

test('roles › every route answers anonymous 401 and each role as PERMISSIONS says (bearer token)', async () => {
  const marked = await markOnboarding({ complete: true });
  assert.ok(marked.status === 200 || marked.status === 409, await marked.text());
  await matrix(false);
});

test('roles › every route answers anonymous 401 and each role as PERMISSIONS says (session cookie)', async () => {
  await matrix(true);
});

test('roles › /api/health (liveness) and /api/ready (readiness) answer anyone, signed in or not', async () => {
  const response = await fetch(`${server.url}/api/health`);
  assert.is(response.status, 200);
  assert.equal(await response.json(), { ok: true, status: 'ready', events: 'postgres' });
  const ready = await fetch(`${server.url}/api/ready`);
  assert.is(ready.status, 200);
  const report = (await ready.json()) as { ready: boolean; checks: Record<string, { ok: boolean }> };
  assert.is(report.ready, true);
  for (const name of ['database', 'engine', 'console']) assert.ok(report.checks[name]?.ok, name);
});

test('metrics › /metrics answers admins and the scrape token in Prometheus format; anonymous 401, other roles 403', async () => {
  assert.is((await fetch(`${server.url}/metrics`)).status, 401);
  assert.is((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.tokens.bi}` } })).status, 403);
  assert.is((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.tokens.auditor}` } })).status, 403);
  for (const token of [server.tokens.admin, 'scrape-token-0123456789']) {
    const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    const text = await response.text();
    assert.is(response.status, 200, text);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    for (const name of ['careos_http_request_duration_seconds_bucket', 'careos_rows_decided_total', 'careos_processor_lag_rows', 'careos_pg_pool_connections', 'careos_engine_leader 1', 'careos_import_duration_seconds_bucket']) {
      assert.ok(text.includes(name), `${name} missing from /metrics`);
    }
  }
});

test('csrf › a cookie-authenticated POST /api/imports from a foreign Origin is 403; from the server\'s own Origin it is accepted', async () => {
  const before = await importCount();
  await expectProblem(await upload(fileParts(), 'admin', { cookie: true, headers: { origin: 'https://evil.example' } }), 403, /cross-site/);
  await expectProblem(await upload(fileParts(), 'admin', { cookie: true, headers: { origin: 'null' } }), 403, /cross-site/);
  await expectProblem(await upload(fileParts(), 'admin', { cookie: true }), 403, /cross-site/); // neither Origin nor Sec-Fetch-Site
  await expectProblem(await upload(fileParts(), 'admin', { cookie: true, headers: { 'sec-fetch-site': 'cross-site' } }), 403, /cross-site/);
  assert.is(await importCount(), before);
  const own = await upload(fileParts('own-origin.csv'), 'admin', { cookie: true, headers: { origin: server.url } });
  assert.is(own.status, 202, await own.clone().text());
  const fetchMetadata = await upload(fileParts('same-origin.csv'), 'admin', { cookie: true, headers: { 'sec-fetch-site': 'same-origin' } });
  assert.is(fetchMetadata.status, 202, await fetchMetadata.clone().text());
  assert.is(await importCount(), before + 2);
});

test('csrf › a bearer-token POST /api/imports needs no Origin', async () => {
  const response = await upload(fileParts('script.csv'), 'admin');
  assert.is(response.status, 202, await response.clone().text());
});

// ── start-up ───────────────────────────────────────────────────────────────────────────────────

/** Runs bin/careos-server.js until it exits (or 60 s); what it printed and its exit code. */
function runServer(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/careos-server.js')], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('start › a second server on a port in use says so and exits 1', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-port-'));
  try {
    const run = await runServer({ PORT: String(server.port), DATABASE_URL: server.db.url, CAREOS_DATA_DIR: dataDir, CAREOS_API_TOKENS: '' });
    assert.is(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stderr, new RegExp(`port ${server.port} is already in use`));
    assert.not.match(run.stdout, /console and API on/);
    // The first server is unharmed.
    assert.is((await fetch(`${server.url}/api/health`)).status, 200);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('start › a malformed CAREOS_API_TOKENS is a one-line error and exit 1 before anything starts, never showing a token', async () => {
  const secret = 'a-secret-token-0123456789';
  const cases: [string, RegExp][] = [
    [`${secret}=alice`, /entry 1 .* is not token=name:role/],
    [`${secret}=alice:superuser`, /entry 1 for "alice" has role "superuser"/],
    [`short=bob:bi`, /entry 1 for "bob": the token is shorter than 16 characters/],
    [`${secret}=alice:admin,${secret}=bob:bi`, /entry 2 for "bob": the same token is given twice/],
    [`${secret}`, /entry 1 is not token=name:role/],
    [`${secret}=alice:admin;other=bob:bi`, /entry 1 .* is not token=name:role/],
  ];
  for (const [tokens, message] of cases) {
    const dataDir = path.join(os.tmpdir(), `careos-tokens-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const port = await freePort();
    const run = await runServer({ CAREOS_API_TOKENS: tokens, PORT: String(port), DATABASE_URL: server.db.url, CAREOS_DATA_DIR: dataDir });
    assert.is(run.code, 1, tokens);
    const lines = run.stderr.trimEnd().split('\n');
    assert.is(lines.length, 1, run.stderr);
    assert.match(lines[0]!, /^careos: CAREOS_API_TOKENS /);
    assert.match(lines[0]!, message);
    assert.not.ok(run.stderr.includes(secret), `the token is shown: ${run.stderr}`);
    assert.is(run.stdout, '');
    assert.not.ok(fs.existsSync(dataDir), 'the data directory was created: something started');
  }
});

// ── docs ───────────────────────────────────────────────────────────────────────────────────────

test('docs › docs/api.md has a row for every route, with the roles PERMISSIONS gives it', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/api.md'), 'utf8');
  const rows = doc.split('\n').filter((line) => line.startsWith('| `'));
  const documented = [...MATRIX.map((r) => ({ method: r.method, path: r.path().replace(importId, ':id').replace(careosId, ':careosId').replace('/errors/2/', '/errors/:row/').replace(/\?.*/, ''), permission: r.permission })),
    { method: 'GET', path: '/api/health', permission: 'public' as const }, { method: 'GET', path: '/api/ready', permission: 'public' as const },
    { method: 'GET', path: '/metrics', permission: 'metrics.read' as const }];
  for (const route of documented) {
    const row = rows.find((line) => line.startsWith(`| \`${route.method}\` | \`${route.path}\` |`));
    assert.ok(row, `docs/api.md has no row for ${route.method} ${route.path}`);
    const roles = row!.split('|')[3]!;
    if (route.permission === 'public') assert.match(roles, /anyone/);
    else if (route.permission === null) assert.match(roles, /any signed-in/);
    else for (const role of ROLES) assert.is(roles.includes(role), (PERMISSIONS[route.permission] as readonly string[]).includes(role), `${route.method} ${route.path}: ${role}`);
  }
});

test('log › no request of this file was answered 500 or logged as a server fault', () => {
  assert.not.match(server.output(), /request failed|Internal Server Error|"status":500/);
});

test.run();
