import type { Principal } from '$schemas/api.ts';
import type { Careos } from '../../services/api/careos.ts';

declare global {
  namespace App {
    interface Locals {
      /** The service layer of this process (see services/api/context.ts). */
      careos: Careos;
      /** The signed-in user, or null. */
      user: Principal | null;
      /** The session cookie's token, when there is a live session. */
      sessionToken: string | null;
      /** The session cookie is Secure (the public URL is https). */
      secureCookies: boolean;
      /**
       * Set by the hook when the user's role may not open this page: the (console) layout's load
       * throws it as a 403, so the error page renders inside the console's frame.
       */
      forbidden: string | null;
      /** What every page should say about the server's state (database restarting, disk full), or null. */
      banner: string | null;
    }
    interface Error {
      message: string;
      status?: number;
    }
  }
}

export {};
