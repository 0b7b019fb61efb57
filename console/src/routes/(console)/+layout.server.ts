import { error } from '@sveltejs/kit';
import type { LayoutServerLoad } from './$types';

// The hook decided who may see this page; a wrong role gets the 403 page here (inside the frame).
export const load: LayoutServerLoad = ({ locals }) => {
  if (locals.forbidden) error(403, locals.forbidden);
  return {};
};
