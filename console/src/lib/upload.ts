// The upload of a file to POST /api/imports (same origin, session cookie). XMLHttpRequest rather
// than fetch: it reports upload progress, which the modal shows as a bar.
import { api } from './routes.ts';

export interface UploadProgress {
  loaded: number;
  total: number;
}

export type UploadResult = { ok: true; importId: string } | { ok: false; status: number; detail: string };

export interface Upload {
  done: Promise<UploadResult>;
  abort(): void;
}

/** What the server said about a refused upload (problem+json `detail`), or a plain account of it. */
function refusal(xhr: XMLHttpRequest): string {
  try {
    const body = JSON.parse(xhr.responseText) as { detail?: unknown; title?: unknown };
    if (typeof body.detail === 'string' && body.detail) return body.detail;
    if (typeof body.title === 'string' && body.title) return body.title;
  } catch {
    // not JSON: fall through
  }
  return `the server refused the upload (HTTP ${xhr.status})`;
}

export function uploadImport(file: File, source: string, onProgress: (progress: UploadProgress) => void): Upload {
  const xhr = new XMLHttpRequest();
  const done = new Promise<UploadResult>((resolve) => {
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress({ loaded: event.loaded, total: event.total });
    });
    xhr.addEventListener('load', () => {
      if (xhr.status === 202 || xhr.status === 200) {
        try {
          const body = JSON.parse(xhr.responseText) as { importId?: unknown };
          if (typeof body.importId === 'string') return resolve({ ok: true, importId: body.importId });
        } catch {
          // fall through
        }
        return resolve({ ok: false, status: xhr.status, detail: 'the server accepted the file but did not say which import it started' });
      }
      resolve({ ok: false, status: xhr.status, detail: refusal(xhr) });
    });
    xhr.addEventListener('error', () => resolve({ ok: false, status: 0, detail: 'the upload was interrupted (network error); try again' }));
    xhr.addEventListener('abort', () => resolve({ ok: false, status: 0, detail: 'the upload was cancelled' }));
  });
  const form = new FormData();
  form.append('source', source);
  form.append('file', file, file.name);
  xhr.open('POST', api.imports());
  xhr.setRequestHeader('Accept', 'application/json');
  xhr.send(form);
  return { done, abort: () => xhr.abort() };
}
