// Imports through the HTTP API with a bearer token (what scripts do), for tests that need data
// in place before they drive the browser.
import fs from 'node:fs';
import type { ImportView } from '../../schemas/api.ts';
import type { TestServer } from '../support/server.ts';

export async function importThroughApi(server: TestServer, fileName: string, content: string | Buffer, source: 'nana' | 'careos'): Promise<string> {
  const form = new FormData();
  form.append('source', source);
  form.append('file', new Blob([typeof content === 'string' ? content : new Uint8Array(content)]), fileName);
  const response = await fetch(`${server.url}/api/imports`, { method: 'POST', body: form, headers: { authorization: `Bearer ${server.tokens.admin}` } });
  const body = (await response.json()) as { importId?: string; detail?: string };
  if (response.status !== 202 || !body.importId) throw new Error(`import of ${fileName} refused: ${response.status} ${body.detail}`);
  return body.importId;
}

export async function importFixture(server: TestServer, fixture: string, source: 'nana' | 'careos'): Promise<string> {
  return importThroughApi(server, fixture, fs.readFileSync(new URL(`../fixtures/${fixture}`, import.meta.url)), source);
}

export async function getImport(server: TestServer, importId: string): Promise<ImportView> {
  const response = await fetch(`${server.url}/api/imports/${importId}`, { headers: { authorization: `Bearer ${server.tokens.admin}` } });
  if (!response.ok) throw new Error(`GET import ${importId}: ${response.status}`);
  return (await response.json()) as ImportView;
}

/** Waits until the import stopped (Success or Failed) and returns it. */
export async function finished(server: TestServer, importId: string, timeoutMs = 60_000): Promise<ImportView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await getImport(server, importId);
    if (view.status !== 'In progress') return view;
    if (Date.now() > deadline) throw new Error(`import ${importId} still in progress after ${timeoutMs} ms: ${JSON.stringify(view)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
