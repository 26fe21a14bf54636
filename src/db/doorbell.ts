// How a queue's worker waits for work: until its poll interval is over, or until it is rung
// (something was queued here, or the change channel, changes.ts, says another process did).
// A ring while the worker is busy is kept, so the next wait ends at once: no news is missed
// between a claim and the wait after it.
export class Doorbell {
  private rung = false;
  private answer: (() => void) | undefined;

  ring() {
    this.rung = true;
    this.answer?.();
  }

  /** Forgets earlier rings: what they announced is committed, and the caller is about to look. */
  clear() {
    this.rung = false;
  }

  /** Resolves after `ms`, or as soon as the bell rings (at once if it rang since the last clear or wait). */
  wait(ms: number): Promise<void> {
    if (this.rung) {
      this.rung = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.answer?.(), ms);
      this.answer = () => {
        clearTimeout(timer);
        this.answer = undefined;
        this.rung = false;
        resolve();
      };
    });
  }
}
