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
    }
    interface Error {
      message: string;
      status?: number;
    }
  }
}

export {};
