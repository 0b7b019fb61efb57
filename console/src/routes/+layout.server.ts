import type { LayoutServerLoad } from './$types';

// The frame needs to know who is signed in (name and role for the panel, role for the menu).
export const load: LayoutServerLoad = ({ locals }) => {
  const user = locals.user;
  return {
    user: user ? { id: user.id, name: user.name, role: user.role, mustChangePassword: user.mustChangePassword } : null,
    /** The server's state when it is not well (database restarting, disk full), for every page's banner. */
    banner: locals.banner,
  };
};
