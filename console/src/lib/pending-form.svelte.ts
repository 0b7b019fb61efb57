// A form posted with use:enhance that says it is busy until the answer has been applied, and keeps
// what was typed when the answer is a refusal (the form is not reset).
type Update = (options?: { reset?: boolean }) => Promise<void>;

export class PendingForm {
  busy = $state(false);

  /** For use:enhance={form.submit}. */
  submit = () => {
    this.busy = true;
    return async ({ update }: { update: Update }) => {
      try {
        await update({ reset: false });
      } finally {
        this.busy = false;
      }
    };
  };
}
