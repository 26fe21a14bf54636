// The barrier of the race tests: every call is queued first and all start at the same moment
// (8+ at once), so counting, consuming and rotating code meets real concurrency.

/** Starts `task(0)`…`task(count - 1)` at once. */
export function together<T>(count: number, task: (index: number) => Promise<T>): Promise<T[]>;
/** Starts every call at once. */
export function together<T>(calls: Array<() => Promise<T>>): Promise<T[]>;
export async function together<T>(countOrCalls: number | Array<() => Promise<T>>, task?: (index: number) => Promise<T>): Promise<T[]> {
  const calls = typeof countOrCalls === 'number' ? Array.from({ length: countOrCalls }, (_, i) => () => task!(i)) : countOrCalls;
  let open!: () => void;
  const barrier = new Promise<void>((resolve) => { open = resolve; });
  const running = calls.map(async (call) => {
    await barrier;
    return call();
  });
  open();
  return Promise.all(running);
}
