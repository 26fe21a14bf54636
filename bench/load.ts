// Closed-loop load: N workers, each starting its next operation when the previous one ends.
// An operation is one HTTP request or a whole multi-request flow. Latency is measured per
// operation with process.hrtime; the server's CPU time is read from /proc around the window.
import fs from 'node:fs';

export type Operation = () => Promise<void>;

export interface Window {
  /** Operations completed inside the measured window. */
  completed: number;
  /** Failed operations (any phase after warm-up). */
  errors: number;
  firstError: string | undefined;
  /** Latencies (ms) of operations that both started and ended inside the window. */
  latencies: number[];
  /** Length of the measured window, ms. */
  elapsedMs: number;
  /** Server CPU time (user + system) spent inside the window, ms; NaN when unreadable. */
  serverCpuMs: number;
}

/** Monotonic milliseconds. */
export const now = () => Number(process.hrtime.bigint()) / 1e6;

const CLOCK_TICK_MS = 10; // USER_HZ is 100 on Linux x86-64

/**
 * utime + stime of a process in ms (NaN when /proc is not readable); with `thread`, of that
 * thread only (a Node process's main thread has the process's own id).
 */
export function cpuTimeMs(pid: number, thread?: number): number {
  try {
    const stat = fs.readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
  } catch {
    return Number.NaN;
  }
}

/** Resident and peak resident memory of a process, MB (from /proc/<pid>/status). */
export function memoryMb(pid: number): { rss: number; peak: number } {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))?.[1] ?? Number.NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
}

/**
 * Runs `operation` with `concurrency` workers for warmupMs (not counted) then durationMs
 * (counted). Stops starting operations at the end of the window and waits for the in-flight ones.
 */
export async function closedLoop(options: {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  operation: Operation;
  serverPid: number;
}): Promise<Window> {
  const start = now();
  const measureStart = start + options.warmupMs;
  const measureEnd = measureStart + options.durationMs;
  const latencies: number[] = [];
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  let cpuAtStart = Number.NaN;
  let cpuAtEnd = Number.NaN;

  // CPU is sampled by timers at the window's edges (the workers keep the loop busy but yield).
  const startTimer = setTimeout(() => { cpuAtStart = cpuTimeMs(options.serverPid); }, Math.max(0, measureStart - now()));
  const endTimer = setTimeout(() => { cpuAtEnd = cpuTimeMs(options.serverPid); }, Math.max(0, measureEnd - now()));
  if (options.warmupMs === 0) cpuAtStart = cpuTimeMs(options.serverPid);

  const worker = async () => {
    while (now() < measureEnd) {
      const began = now();
      try {
        await options.operation();
        const ended = now();
        if (ended >= measureStart && ended <= measureEnd) {
          completed++;
          if (began >= measureStart) latencies.push(ended - began);
        }
      } catch (error) {
        if (now() >= measureStart) {
          errors++;
          firstError ??= (error as Error).message;
        }
        // A failing server answers fast; do not spin.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  clearTimeout(startTimer);
  clearTimeout(endTimer);
  if (Number.isNaN(cpuAtEnd)) cpuAtEnd = cpuTimeMs(options.serverPid);
  return { completed, errors, firstError, latencies, elapsedMs: options.durationMs, serverCpuMs: cpuAtEnd - cpuAtStart };
}

export interface Stats {
  perSecond: number;
  p50: number;
  p99: number;
  completed: number;
  errors: number;
  firstError: string | undefined;
  /** Server CPU per operation, ms. */
  cpuPerOp: number;
  /** Server CPU utilisation during the window, in cores (1.0 = one core busy). */
  cpuCores: number;
}

/** Merges several windows (rounds) of the same measurement. */
export function summarize(windows: Window[]): Stats {
  const latencies = windows.flatMap((w) => w.latencies).sort((a, b) => a - b);
  const completed = windows.reduce((sum, w) => sum + w.completed, 0);
  const elapsed = windows.reduce((sum, w) => sum + w.elapsedMs, 0);
  const cpu = windows.reduce((sum, w) => sum + w.serverCpuMs, 0);
  const quantile = (q: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] : Number.NaN);
  return {
    perSecond: completed / (elapsed / 1000),
    p50: quantile(0.5),
    p99: quantile(0.99),
    completed,
    errors: windows.reduce((sum, w) => sum + w.errors, 0),
    firstError: windows.find((w) => w.firstError)?.firstError,
    cpuPerOp: completed ? cpu / completed : Number.NaN,
    cpuCores: cpu / elapsed,
  };
}
