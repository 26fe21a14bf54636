// One JSON line per gateway request: project, user or key id, method, path without its query,
// status, upstream time and bytes. Never a token, key, query string or header value.
import type { Logger } from '../logger.js';
import type { GatewayMetrics } from './metrics.js';

export interface GatewayRecord {
  requestId: string;
  project: string;
  user?: string;
  keyId?: string;
  authMethod?: string;
  method: string;
  path: string;
  status: number;
  /** Until the upstream's answer headers arrived; absent when the upstream was not asked. */
  upstreamMs?: number;
  bytesIn: number;
  bytesOut: number;
  ms: number;
  error?: string;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

export function recordRequest(log: Logger, metrics: GatewayMetrics, record: GatewayRecord, observe?: (record: GatewayRecord) => void) {
  metrics.record(record.project, record.status, record.upstreamMs, record.bytesIn, record.bytesOut);
  observe?.(record);
  const level = record.status >= 500 ? 'warn' : 'info';
  if (!log.isLevelEnabled(level)) return;
  log[level]({
    event: 'gateway', ...record, ms: round(record.ms), ...(record.upstreamMs !== undefined ? { upstreamMs: round(record.upstreamMs) } : {}),
  }, 'gateway request');
}

/** The path below /api/gateway/:project, without its query: what the log may say. */
export function loggedPath(url: string): string {
  const end = url.search(/[?#]/);
  return (end === -1 ? url : url.slice(0, end)).slice(0, 512);
}
