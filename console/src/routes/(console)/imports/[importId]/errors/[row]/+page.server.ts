import { error } from '@sveltejs/kit';
import { can } from '$schemas/api.ts';
import { refusal, service, signedIn } from '$lib/server/service.ts';
import type { Actions, PageServerLoad } from './$types';

function rowNumber(raw: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(raw)) error(404, `There is no row ${raw}.`);
  return Number(raw);
}

export const load: PageServerLoad = async ({ locals, params }) => {
  const user = signedIn(locals);
  const { import: item, error: rejected } = await service(() => locals.careos.rejectedRow(user, params.importId, rowNumber(params.row)));
  return { item, rejected, canReplay: can(user.role, 'errors.replay') };
};

/** Starts the replay, then waits a few seconds for its outcome (one row: well under a second). */
async function replayed(locals: App.Locals, start: () => Promise<{ importId: string }>) {
  const user = signedIn(locals);
  const { importId } = await start();
  const view = await locals.careos.awaitImport(user, importId, 15_000);
  return { replayId: importId, status: view?.status ?? 'In progress', imported: (view?.importedRows ?? 0) + (view?.skippedRows ?? 0) > 0 };
}

/** A refused replay: its reason, the row's reasons when it still fails its checks, and the values typed. */
function refused(thrown: unknown, values?: Record<string, string>) {
  const reasons = (thrown as { reasons?: { field: string; code: string; message: string }[] } | null)?.reasons;
  return refusal(thrown, { reasons: reasons ?? null, values: values ?? null });
}

export const actions: Actions = {
  /** The row with its values fixed in place, replayed alone (the same checks as an upload). */
  fix: async ({ locals, params, request }) => {
    const form = await request.formData();
    const values: Record<string, string> = {};
    for (const [name, value] of form) if (name.startsWith('value:') && typeof value === 'string') values[name.slice(6)] = value;
    try {
      return await replayed(locals, () => locals.careos.fixError(signedIn(locals), params.importId, rowNumber(params.row), values));
    } catch (thrown) {
      return refused(thrown, values);
    }
  },
  /** The row sent again unchanged (e.g. after the conflicting profile was fixed). */
  replay: async ({ locals, params }) => {
    try {
      return await replayed(locals, () => locals.careos.replayErrors(signedIn(locals), params.importId, [rowNumber(params.row)]));
    } catch (thrown) {
      return refused(thrown);
    }
  },
};
