// What bench/run.ts hands a part that runs hubs of its own (the gateway, the event bus), and
// what such a part hands back to be printed with the others.
import type { Child } from './processes.js';

export interface PartDeps<Hub> {
  root: string;
  tmp: string;
  /** Multiplies the warm-up and measuring windows. */
  scale: number;
  rounds: number;
  log(line: string): void;
  childEnv(extra: Record<string, string>): NodeJS.ProcessEnv;
  /** Starts a hub (`node dist/server.js`) with these extra variables. */
  startHub(extraEnv: Record<string, string>): Promise<Hub>;
}

export interface PartReport {
  text: string;
  markdown: string;
  notes: string[];
  warnings: string[];
  failures: string[];
  descriptions: string[];
  summaryLines: string[];
}

export const emptyReport = (): PartReport => ({ text: '', markdown: '', notes: [], warnings: [], failures: [], descriptions: [], summaryLines: [] });

