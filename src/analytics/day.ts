// UTC days as 'YYYY-MM-DD': the unit every analytics table counts in.
const DAY_MS = 86_400_000;

export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function addDays(day: string, days: number): string {
  return isoDay(new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS));
}

/** Milliseconds from `now` to the next UTC midnight. */
export function msToMidnight(now: Date): number {
  return Date.parse(`${addDays(isoDay(now), 1)}T00:00:00Z`) - now.getTime();
}
