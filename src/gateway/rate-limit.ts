// Gateway rate limits: GCRA (generic cell rate algorithm) buckets of N requests per minute,
// one per (project, user) from the plan and one per API key from its --rate-limit. GCRA keeps
// one timestamp per bucket (the theoretical arrival time), lets a full minute's worth through
// at once and then one every 60/N s: no fixed-window edge that lets 2N through. All buckets
// of a request are checked and taken in one Lua script, atomically, with Redis' clock, so every
// hub instance shares them. While Redis is unreachable (RedisLink's breaker) or not configured,
// each instance counts in its own memory: the limit then applies per instance. RedisLink logs
// the outage and the recovery once each.
import type { RedisLink } from '../security/redis.js';

const PERIOD_MS = 60_000;

export interface Bucket {
  key: string;
  perMinute: number;
}

export interface Verdict {
  allowed: boolean;
  /** The tightest bucket's limit, what is left of it, and seconds until it is full again. */
  limit: number;
  remaining: number;
  resetSeconds: number;
  retryAfterSeconds: number;
}

// KEYS: the buckets; ARGV: the emission interval (ms per request) of each. Returns allowed (1/0),
// the wait in ms before a refused request would pass, then per bucket: remaining, ms until full.
const GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local period = ${PERIOD_MS}
local allowed = 1
local wait = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  tats[i] = tat
  local ahead = tat + interval - now
  if ahead > period then
    allowed = 0
    if ahead - period > wait then wait = ahead - period end
  end
end
local out = { allowed, math.ceil(wait) }
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[i])
  local tat = tats[i]
  if allowed == 1 then
    tat = tat + interval
    redis.call('SET', key, string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
  end
  out[#out + 1] = math.floor((period - (tat - now)) / interval)
  out[#out + 1] = math.ceil(tat - now)
end
return out
`;

const MAX_LOCAL_BUCKETS = 100_000;

/**
 * What an unlimited caller (a plan without a gateway limit, an API key without --rate-limit,
 * client credentials) is told in the same three fields, so that every admitted answer carries
 * them: the largest integer a Structured Field can hold (RFC 8941, 15 digits) as both the limit
 * and what remains, and 0 s until the quota is full again (nothing of it is ever used up).
 */
export const UNLIMITED: Verdict = { allowed: true, limit: 999_999_999_999_999, remaining: 999_999_999_999_999, resetSeconds: 0, retryAfterSeconds: 0 };

/** RateLimit-Limit, -Remaining and -Reset (draft-ietf-httpapi-ratelimit-headers), appended to a name, value list. */
export function pushRateLimitFields(out: string[], verdict: Verdict) {
  out.push('RateLimit-Limit', String(verdict.limit), 'RateLimit-Remaining', String(verdict.remaining), 'RateLimit-Reset', String(verdict.resetSeconds));
}

export class GatewayLimiter {
  private readonly local = new Map<string, number>();

  constructor(private readonly redis: RedisLink | undefined, private readonly prefix: string) {
    redis?.client.defineCommand('nexusGatewayGcra', { lua: GCRA });
  }

  /** Checks and (when every bucket has room) takes one request from each bucket; none: UNLIMITED, at once. */
  take(buckets: Bucket[]): Verdict | Promise<Verdict> {
    return buckets.length === 0 ? UNLIMITED : this.takeFrom(buckets);
  }

  private async takeFrom(buckets: Bucket[]): Promise<Verdict> {
    const intervals = buckets.map((b) => PERIOD_MS / b.perMinute);
    let raw: number[];
    if (this.redis?.usable) {
      try {
        const keys = buckets.map((b) => `${this.prefix}gw:${b.key}`);
        raw = await this.redis.run(() => (this.redis!.client as unknown as Record<string, (...a: unknown[]) => Promise<number[]>>)
          .nexusGatewayGcra(keys.length, ...keys, ...intervals.map(String)));
      } catch {
        raw = this.takeLocally(buckets, intervals);
      }
    } else {
      raw = this.takeLocally(buckets, intervals);
    }
    return verdict(buckets, raw);
  }

  /** The same algorithm in this process's memory. */
  private takeLocally(buckets: Bucket[], intervals: number[]): number[] {
    const now = Date.now();
    if (this.local.size > MAX_LOCAL_BUCKETS) for (const [key, tat] of this.local) if (tat < now) this.local.delete(key);
    const tats = buckets.map((b) => Math.max(this.local.get(b.key) ?? now, now));
    let wait = 0;
    tats.forEach((tat, i) => { wait = Math.max(wait, tat + intervals[i] - now - PERIOD_MS); });
    const allowed = wait <= 0;
    const out = [allowed ? 1 : 0, Math.ceil(Math.max(wait, 0))];
    buckets.forEach((b, i) => {
      const tat = allowed ? tats[i] + intervals[i] : tats[i];
      if (allowed) this.local.set(b.key, tat);
      out.push(Math.floor((PERIOD_MS - (tat - now)) / intervals[i]), Math.ceil(tat - now));
    });
    return out;
  }
}

function verdict(buckets: Bucket[], raw: number[]): Verdict {
  const allowed = Number(raw[0]) === 1;
  let tightest = 0;
  for (let i = 1; i < buckets.length; i++) if (Number(raw[2 + i * 2]) < Number(raw[2 + tightest * 2])) tightest = i;
  return {
    allowed,
    limit: buckets[tightest].perMinute,
    remaining: Math.max(0, Number(raw[2 + tightest * 2])),
    resetSeconds: Math.max(0, Math.ceil(Number(raw[3 + tightest * 2]) / 1000)),
    retryAfterSeconds: Math.max(1, Math.ceil(Number(raw[1]) / 1000)),
  };
}
