// The login-storm part of `npm run bench` (`--only=storm`): client_credentials on a quiet hub
// and on the same hub while logins run continuously, then the logins alone against what bcrypt
// allows on this machine (cores × 1 / the time of one bcryptjs comparison at cost 11).
import os from 'node:os';
import bcrypt from 'bcryptjs';
import { closedLoop, summarize, type Operation, type Stats } from './load.js';

const COST = 11; // as src/accounts/passwords.ts

export interface BcryptLimit {
  /** One comparison on one core: median CPU time and wall time, ms. */
  compareCpuMs: number;
  compareWallMs: number;
  /** Cores the hub's password pool may use (its default PASSWORD_WORKERS). */
  cores: number;
  /** cores × 1 / compareCpuMs: logins per second if bcrypt were all a login cost. */
  loginsPerSecond: number;
}

/**
 * Times bcryptjs comparisons at cost 11 on this thread (one core), synchronously, as the pool's
 * threads run them. Run while nothing else of the benchmark is running.
 */
export function measureBcrypt(samples = 6): BcryptLimit {
  const password = 'bench password 0123';
  const hash = bcrypt.hashSync(password, COST);
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < samples; i++) {
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    if (!bcrypt.compareSync(password, hash)) throw new Error('bcryptjs refused its own hash');
    wall.push(performance.now() - wallBefore);
    const used = process.cpuUsage(cpuBefore);
    cpu.push((used.user + used.system) / 1000);
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const cores = os.availableParallelism();
  const compareCpuMs = median(cpu);
  return { compareCpuMs, compareWallMs: median(wall), cores, loginsPerSecond: cores * (1000 / compareCpuMs) };
}

export interface StormPlan {
  tokens: Operation;
  login: Operation;
  serverPid: number;
  tokenConcurrency: number;
  loginConcurrency: number;
  warmupMs: number;
  durationMs: number;
  log: (line: string) => void;
}

export interface StormResult {
  quiet: Stats;
  storm: { tokens: Stats; logins: Stats };
  loginsAlone: Stats;
}

/** Quiet tokens, then tokens and logins at once (each window warmed up first), then logins alone. */
export async function loginStorm(plan: StormPlan): Promise<StormResult> {
  const window = async (concurrency: number, operation: Operation) => summarize([await closedLoop({
    concurrency, operation, warmupMs: plan.warmupMs, durationMs: plan.durationMs, serverPid: plan.serverPid,
  })]);
  plan.log(`  storm: client_credentials on a quiet hub, c=${plan.tokenConcurrency}`);
  const quiet = await window(plan.tokenConcurrency, plan.tokens);
  plan.log(`  storm: client_credentials c=${plan.tokenConcurrency} while logins run, c=${plan.loginConcurrency}`);
  const [tokens, logins] = await Promise.all([window(plan.tokenConcurrency, plan.tokens), window(plan.loginConcurrency, plan.login)]);
  plan.log(`  storm: logins alone, c=${plan.loginConcurrency}`);
  const loginsAlone = await window(plan.loginConcurrency, plan.login);
  return { quiet, storm: { tokens, logins }, loginsAlone };
}
