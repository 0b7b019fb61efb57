// Nothing a request does can stop the server (issue 24, problem 1): a few thousand malformed
// requests — broken percent-encoding, NUL and lone surrogates, huge values, repeated and unknown
// parameters, bogus headers and cookies, garbage bodies of every content type, odd methods — to
// every API route and every console page and form action, anonymous, signed in and with a token.
// Each one is answered (a 4xx, or a 2xx/3xx where the garbage happens to be harmless), never a
// 5xx, never a hang, and the server is ready and alive at the end with nothing logged as a fault.
// The generator is seeded: a failure names its seed and request, and replays exactly.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT, signInCookie, startTestServer, type TestServer } from '../../test/support/server.ts';
import { mulberry32 } from '../../bench/generate.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261207);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 2400);
const CONCURRENCY = 6;


/** Every console route, from the route files themselves (a new page is fuzzed without a change here). */
function consoleRoutes(): { path: string; actions: string[] }[] {
  const root = path.join(ROOT, 'console/src/routes');
  const found: { path: string; actions: string[] }[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === '+page.svelte' || entry.name === '+server.ts') {
        const route = '/' + path.relative(root, dir).split(path.sep).filter((part) => part && !/^\(.*\)$/.test(part)).join('/');
        const server = path.join(dir, '+page.server.ts');
        const source = fs.existsSync(server) ? fs.readFileSync(server, 'utf8') : '';
        const block = /export const actions[^=]*=\s*\{([\s\S]*?)\n\};/.exec(source)?.[1] ?? '';
        const actions = [...block.matchAll(/^\s{2}(?:\/\*\*[^\n]*\*\/\s*)?(\w+)\s*:/gm)].map((m) => m[1]!);
        found.push({ path: route === '/' ? '/' : route, actions });
      }
    }
  };
  walk(root);
  return found;
}

const API_ROUTES: { method: string; path: string }[] = [
  { method: 'GET', path: '/api/health' }, { method: 'GET', path: '/api/ready' }, { method: 'GET', path: '/api/me' },
  { method: 'GET', path: '/api/imports' }, { method: 'POST', path: '/api/imports' }, { method: 'GET', path: '/api/imports/:id' },
  { method: 'GET', path: '/api/imports/:id/errors' }, { method: 'GET', path: '/api/imports/:id/errors.csv' },
  { method: 'POST', path: '/api/imports/:id/errors/replay' }, { method: 'POST', path: '/api/imports/:id/errors/:row/fix' },
  { method: 'GET', path: '/api/imports/:id/revert' }, { method: 'POST', path: '/api/imports/:id/revert' },
  { method: 'GET', path: '/api/profiles' }, { method: 'GET', path: '/api/profiles/:careosId' }, { method: 'GET', path: '/api/rebuild' },
  { method: 'POST', path: '/api/careshop/sync' }, { method: 'GET', path: '/api/careshop/history' },
  { method: 'GET', path: '/api/onboarding/nana' }, { method: 'POST', path: '/api/onboarding/nana' },
  { method: 'GET', path: '/api/audit/timeline' }, { method: 'GET', path: '/api/audit/timeline.csv' }, { method: 'GET', path: '/api/relations' },
  { method: 'GET', path: '/metrics' },
];

const NASTY_SEGMENTS = [
  '%ZZ', '%', '%C0%AF', '%00', '%E0%A4', '%ED%A0%80', '..%2F..%2Fetc%2Fpasswd', '%2e%2e', 'x'.repeat(5000), '\u0e01\u0e02', '%F0%9F%98%80',
  '%EF%BF%BF', '__proto__', 'constructor', '%25ZZ', ';', '%3Cscript%3E', '1e309', '-1', '0', '99999999999999999999', 'C0100001', '%0d%0aSet-Cookie:x=1',
];
const NASTY_VALUES = [
  '%ZZ', '%00', 'a%00b', '%ED%A0%80', 'x'.repeat(20000), '-1', '1e9', 'NaN', '[]', '{}', '%F0%9F', '+66812345678', '2026-13-45T99:99:99Z',
  'open', 'all', '0812345678', '\u0e2a\u0e21\u0e0a\u0e32\u0e22', '%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E', '',
];
const QUERY_KEYS = ['limit', 'offset', 'status', 'q', 'phone', 'careosId', 'source', 'originalId', 'asOf', 'page', 'importId', 'customerId', '__proto__', 'constructor[prototype]', '%ZZ', 'x'.repeat(300)];

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function fillParams(random: () => number, route: string, ids: { importId: string; careosId: string }): string {
  return route
    .replace(':id', random() < 0.5 ? ids.importId : pick(random, NASTY_SEGMENTS))
    .replace(':row', random() < 0.5 ? '1' : pick(random, NASTY_SEGMENTS))
    .replace(':careosId', random() < 0.5 ? ids.careosId : pick(random, NASTY_SEGMENTS))
    .replace('[importId]', random() < 0.5 ? ids.importId : pick(random, NASTY_SEGMENTS))
    .replace('[row]', random() < 0.5 ? '1' : pick(random, NASTY_SEGMENTS))
    .replace('[careosId]', random() < 0.5 ? ids.careosId : pick(random, NASTY_SEGMENTS));
}

function mutatePath(random: () => number, base: string): string {
  const roll = random();
  if (roll < 0.35) return base;
  if (roll < 0.6) return `${base}/${pick(random, NASTY_SEGMENTS)}`;
  if (roll < 0.75) return base.replace(/\/[^/]*$/, `/${pick(random, NASTY_SEGMENTS)}`) || '/';
  if (roll < 0.85) return `${base}//${pick(random, NASTY_SEGMENTS)}`;
  return `/${pick(random, NASTY_SEGMENTS)}${base}`;
}

function query(random: () => number): string {
  const n = Math.floor(random() * 4);
  if (n === 0) return '';
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = pick(random, QUERY_KEYS);
    const value = pick(random, NASTY_VALUES);
    parts.push(random() < 0.1 ? key : `${key}=${value}`);
    if (random() < 0.15) parts.push(`${key}=${pick(random, NASTY_VALUES)}`); // repeated
  }
  return `?${parts.join('&')}`;
}

function body(random: () => number): { contentType: string | undefined; body: Buffer } {
  const kinds = [
    () => ({ contentType: 'application/json', body: Buffer.from('{"values":{"firstname":"Nul\\u0000Byte","phone":"\\ud800"},"rows":[1,2],"reason":"x","complete":"yes"}') }),
    () => ({ contentType: 'application/json', body: Buffer.from('{'.repeat(5000)) }),
    () => ({ contentType: 'application/json', body: Buffer.from(`{"rows":${'['.repeat(3000)}${']'.repeat(3000)}}`) }),
    () => ({ contentType: 'application/json', body: Buffer.from('{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}') }),
    () => ({ contentType: 'application/json', body: Buffer.from(JSON.stringify({ values: { firstname: 'x'.repeat(100_000) } })) }),
    () => ({ contentType: 'application/json', body: Buffer.from([0xff, 0xfe, 0x00, 0xc0, 0xaf]) }),
    () => ({ contentType: 'application/x-www-form-urlencoded', body: Buffer.from(`email=%ZZ&password=${'a'.repeat(50_000)}&reason=%00&values=%ED%A0%80`) }),
    () => ({ contentType: 'application/x-www-form-urlencoded', body: Buffer.from('a=1&a=2&=&&&%&current=x&next=y&confirm=z') }),
    () => ({ contentType: 'multipart/form-data; boundary=XX', body: Buffer.from('--XX\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nphone\r\n0812345678\r\n--XX') }),
    () => ({ contentType: 'multipart/form-data', body: Buffer.from('no boundary at all') }),
    () => ({ contentType: 'multipart/form-data; boundary=', body: Buffer.alloc(3000, 0x2d) }),
    () => ({ contentType: 'text/csv', body: Buffer.from('careos_cus_id,firstname\nC1,\u0000\n') }),
    () => ({ contentType: undefined, body: Buffer.from(Array.from({ length: 2000 }, () => Math.floor(random() * 256))) }),
    () => ({ contentType: 'application/json; charset=utf-16', body: Buffer.from('{"a":1}', 'utf16le') }),
  ];
  return pick(random, kinds)();
}

function headers(random: () => number, auth: Record<string, string>, origin: string): Record<string, string> {
  const h: Record<string, string> = { ...auth };
  const roll = random();
  if (roll < 0.1) h.cookie = `careos_session=%ZZ; careos_session=${'A'.repeat(4000)}`;
  else if (roll < 0.18) h.authorization = pick(random, ['Bearer', 'Bearer ', 'Basic YWRtaW46YWRtaW4=', `Bearer ${'x'.repeat(5000)}`, 'bearer  a b c']);
  else if (roll < 0.24) h.cookie = `${auth.cookie ?? ''}; careos_session=; =; ;;`;
  if (random() < 0.5) h.origin = random() < 0.7 ? origin : pick(random, ['null', 'https://evil.example', '%ZZ']);
  if (random() < 0.3) h['x-sveltekit-action'] = 'true';
  if (random() < 0.15) h.accept = pick(random, ['*/*;q=%ZZ', 'text/html'.repeat(200), 'application/json']);
  if (random() < 0.1) h['x-request-id'] = pick(random, ['../../etc', 'x'.repeat(500), 'ok-id-1']);
  if (random() < 0.1) h['content-encoding'] = pick(random, ['gzip', 'br', 'bogus']);
  if (random() < 0.1) h.range = 'bytes=99999999-1';
  return h;
}

function send(server: TestServer, request: FuzzRequest): Promise<number | string> {
  return new Promise((resolve) => {
    // Node's client sends only printable ASCII in a path: anything else goes percent-encoded, as a browser sends it.
    const target = request.path.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
    let req: http.ClientRequest;
    try {
      req = http.request({
        host: '127.0.0.1', port: server.port, method: request.method, path: target, headers: request.headers, agent: false, timeout: 15_000,
      }, onResponse);
    } catch (error) {
      resolve(`error ${(error as NodeJS.ErrnoException).code ?? 'ERR_INVALID_CLIENT_REQUEST'}`);
      return;
    }
    // The answer's status once its head arrived: Node's client may still report an error after a
    // complete answer with Connection: close (HPE_CLOSED_CONNECTION while its body was being sent).
    let answered: number | null = null;
    function onResponse(response: http.IncomingMessage): void {
      answered = response.statusCode!;
      response.resume();
      response.on('end', () => resolve(response.statusCode!));
      response.on('error', () => resolve(response.statusCode!));
    }
    req.on('timeout', () => {
      req.destroy();
      resolve('timeout');
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(answered ?? `error ${error.code ?? error.message}`));
    if (request.body) req.end(request.body);
    else req.end();
  });
}

/** Raw bytes no HTTP client would send: the server's parser and clientError answer them. */
function sendRaw(server: TestServer, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(server.port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.setTimeout(10_000, () => socket.destroy());
    socket.end(bytes, 'latin1');
  });
}

let server: TestServer;

test.before(async () => {
  server = await startTestServer({ CAREOS_METRICS_TOKEN: 'scrape-token-0123456789' });
});

test.after(async () => {
  await server?.stop();
});

test(`fuzz › ${REQUESTS} malformed requests to every API route and console page or action (seed ${SEED}) are each answered, never 5xx, and the server stays ready`, async () => {
  // An import to point at, so that half the requests reach past the "no such import" check.
  const form = new FormData();
  form.append('source', 'careos');
  form.append('file', new Blob(['careos_cus_id,firstname,lastname,phone,email,gender,date_of_birth\nC0900001,Anong,Chaiyo,0812223333,,F,1985-03-03\nC0900002,,Mee,,,M,\n'], { type: 'text/csv' }), 'fuzz.csv');
  const started = await fetch(`${server.url}/api/imports`, { method: 'POST', headers: { authorization: `Bearer ${server.tokens.admin}` }, body: form });
  assert.is(started.status, 202);
  const ids = { importId: ((await started.json()) as { importId: string }).importId, careosId: 'C0900001' };
  const cookies = { admin: await signInCookie(server, server.users.admin), bi: await signInCookie(server, server.users.bi) };
  const identities: Record<string, string>[] = [
    {}, { cookie: cookies.admin }, { cookie: cookies.bi }, { authorization: `Bearer ${server.tokens.admin}` }, { authorization: `Bearer ${server.tokens.auditor}` },
  ];
  const pages = consoleRoutes();
  assert.ok(pages.length >= 10, `found only ${pages.length} console routes`);
  const random = mulberry32(SEED); // seeded: a run can be replayed
  const requests: FuzzRequest[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const identity = pick(random, identities);
    const h = headers(random, identity, server.url);
    let method: string;
    let target: string;
    if (random() < 0.5) {
      const route = pick(random, API_ROUTES);
      method = random() < 0.85 ? route.method : pick(random, ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND']);
      target = mutatePath(random, fillParams(random, route.path, ids)) + query(random);
    } else {
      const page = pick(random, pages);
      const action = page.actions.length && random() < 0.6 ? pick(random, page.actions) : null;
      method = action || random() < 0.2 ? 'POST' : random() < 0.9 ? 'GET' : pick(random, ['PUT', 'DELETE', 'OPTIONS', 'HEAD']);
      // Signing out would end the session the other requests use.
      if (page.path === '/logout' && identity.cookie) method = 'GET';
      const suffix = action && action !== 'default' ? `?/${action}` : random() < 0.2 ? '/__data.json' : '';
      target = mutatePath(random, fillParams(random, page.path, ids)) + (suffix.startsWith('?') ? suffix : `${suffix}${query(random)}`);
    }
    const request: FuzzRequest = { method, path: target, headers: h };
    if (method !== 'GET' && method !== 'HEAD' && random() < 0.9) {
      const b = body(random);
      request.body = b.body;
      if (b.contentType) request.headers['content-type'] = b.contentType;
    }
    requests.push(request);
  }

  const failures: string[] = [];
  const statuses = new Map<string, number>();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    for (let i = next++; i < requests.length; i = next++) {
      const request = requests[i]!;
      const status = await send(server, request);
      statuses.set(String(status), (statuses.get(String(status)) ?? 0) + 1);
      // A client-side refusal of a header value (Node's client checks them) is not the server's answer.
      if (typeof status === 'string' && status.startsWith('error ERR_INVALID')) continue;
      if (typeof status !== 'number' || status >= 500) {
        failures.push(`#${i} ${request.method} ${request.path.slice(0, 160)} [${Object.keys(request.headers).join(',')}${request.headers['content-type'] ? ` ${request.headers['content-type']}` : ''}] → ${status}`);
      }
    }
  }));

  const raw = [
    'GET /%ZZ HTTP/1.1\r\nHost: x\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'GARBAGE\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n', `GET /${'a'.repeat(20000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20000)}\r\n\r\n`, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 'POST /api/imports HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n',
    'GET /api/imports HTTP/1.1\r\nHost: x\r\nCookie: careos_session=\u00ff\u00fe\r\n\r\n',
  ];
  for (const bytes of raw) {
    const line = await sendRaw(server, bytes);
    if (line && !/^HTTP\/1\.1 [1-4]\d\d /.test(line)) failures.push(`raw ${JSON.stringify(bytes.slice(0, 60))} → ${line}`);
  }

  assert.is(failures.length, 0, `${failures.length} requests were not answered with a status below 500:\n${failures.slice(0, 30).join('\n')}\nstatuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.is(server.process.exitCode, null, `the server exited:\n${server.output().slice(-3000)}`);
  const ready = await fetch(`${server.url}/api/ready`);
  assert.is(ready.status, 200, await ready.text());
  assert.is((await fetch(`${server.url}/api/imports/${ids.importId}`, { headers: { authorization: `Bearer ${server.tokens.admin}` } })).status, 200);
  assert.not.match(server.output(), /unhandled rejection|uncaught exception|request failed/i, 'a fault was logged');
  const answered = [...statuses].filter(([status]) => /^\d+$/.test(status)).reduce((sum, [, n]) => sum + n, 0);
  assert.ok(answered > REQUESTS * 0.9, `only ${answered} of ${REQUESTS} requests reached the server`);
});

test.run();
