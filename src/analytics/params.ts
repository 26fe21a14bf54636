// The query parameters of /api/analytics/*: one value each, ISO days, a bounded range, a known
// interval and format. Anything else is a 400 with a JSON error before any statement runs.
import type { Context } from 'koa';
import { addDays, isoDay } from './day.js';
import type { Interval } from './queries.js';

/** The longest range a request may ask, in days. */
export const MAX_RANGE_DAYS = 400;
const DEFAULT_RANGE_DAYS = 30;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export class BadParameter extends Error {}

function single(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new BadParameter(`"${name}" must be given once`);
  if (value.length > 200 || /[\u0000-\u001f]/.test(value)) throw new BadParameter(`"${name}" is not a valid value`);
  return value;
}

function day(ctx: Context, name: string): string | undefined {
  const value = single(ctx, name);
  if (value === undefined) return undefined;
  // A real calendar day: '2026-02-30' parses to March and is refused.
  if (!DAY.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)) || isoDay(new Date(`${value}T00:00:00Z`)) !== value) {
    throw new BadParameter(`"${name}" must be a day as YYYY-MM-DD`);
  }
  return value;
}

/** from/to (inclusive): to defaults to today, from to `defaultDays` before it. */
export function range(ctx: Context, today: string, defaultDays = DEFAULT_RANGE_DAYS) {
  const to = day(ctx, 'to') ?? today;
  const from = day(ctx, 'from') ?? addDays(to, -(defaultDays - 1));
  if (from > to) throw new BadParameter('"from" must not be after "to"');
  if (from < addDays(to, -(MAX_RANGE_DAYS - 1))) throw new BadParameter(`the range must not exceed ${MAX_RANGE_DAYS} days`);
  return { from, to };
}

export function oneOf<T extends string>(ctx: Context, name: string, allowed: readonly T[], fallback: T): T {
  const value = single(ctx, name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new BadParameter(`"${name}" must be one of ${allowed.join(', ')}`);
  return value as T;
}

export const interval = (ctx: Context): Interval => oneOf(ctx, 'interval', ['day', 'week', 'month'] as const, 'day');

export const format = (ctx: Context) => oneOf(ctx, 'format', ['json', 'csv'] as const, 'json');

export const projectParam = (ctx: Context) => single(ctx, 'project') || undefined;
