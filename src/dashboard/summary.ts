// A project's answer to GET <upstream>/summary, checked strictly and formatted for the page:
// `{ "title", "metrics": [{ "label", "value", "format": "number|currency|percent" }], "link" }`.
// Anything else (an unknown or missing field, a wrong type, a string too long, too many
// metrics) makes the whole summary unusable: the card then says "unavailable" rather than show
// half of what a broken or hostile project sent. Only the link is dropped on its own, when it is
// not an http(s) address of the project's own origins (never a javascript: or foreign URL).

/** The largest summary read, in bytes: a card holds a few short lines. */
export const MAX_SUMMARY_BYTES = 16 * 1024;
const MAX_TITLE = 80;
const MAX_LABEL = 60;
const MAX_METRICS = 8;
const MAX_LINK = 2048;
// Beyond this a double no longer holds every integer: no card counts that high.
const MAX_VALUE = Number.MAX_SAFE_INTEGER;

export type MetricFormat = 'number' | 'currency' | 'percent';

export interface Summary {
  title: string;
  metrics: Array<{ label: string; value: string }>;
  /** Absent when the project sent none or one that is not its own. */
  link?: string;
}

const FORMATS: Record<MetricFormat, Intl.NumberFormat> = {
  number: new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 }),
  currency: new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }),
  // A percent value is in percent already: 42.5 is shown 42.5%.
  percent: new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1 }),
};

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Exactly these keys (the optional ones may be absent). */
function hasOnly(value: Record<string, unknown>, required: string[], optional: string[] = []) {
  const keys = Object.keys(value);
  return required.every((key) => keys.includes(key)) && keys.every((key) => required.includes(key) || optional.includes(key));
}

/** Printable text of 1..max characters (no control characters, nothing blank). */
function isText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.trim().length > 0 && value.length <= max && !/[\u0000-\u001f\u007f-\u009f]/.test(value);
}

export function formatValue(value: number, format: MetricFormat): string {
  return FORMATS[format].format(format === 'percent' ? value / 100 : value);
}

/** The link, if it is an http(s) URL on one of `origins`, as the parsed URL prints it. */
export function ownLink(link: unknown, origins: ReadonlySet<string>): string | undefined {
  if (typeof link !== 'string' || link.length > MAX_LINK) return undefined;
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password) return undefined;
  return origins.has(url.origin) ? url.href : undefined;
}

/** The summary of `body`, or undefined when it is not one. `origins`: where its link may point. */
export function parseSummary(body: string, origins: ReadonlySet<string>): Summary | undefined {
  if (Buffer.byteLength(body) > MAX_SUMMARY_BYTES) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed) || !hasOnly(parsed, ['title', 'metrics'], ['link'])) return undefined;
  const { title, metrics, link } = parsed;
  if (!isText(title, MAX_TITLE) || !Array.isArray(metrics) || metrics.length > MAX_METRICS) return undefined;
  if (link !== undefined && typeof link !== 'string') return undefined;
  const shown: Summary['metrics'] = [];
  for (const metric of metrics as unknown[]) {
    if (!isRecord(metric) || !hasOnly(metric, ['label', 'value', 'format'])) return undefined;
    const { label, value, format } = metric;
    if (!isText(label, MAX_LABEL) || typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > MAX_VALUE) return undefined;
    if (format !== 'number' && format !== 'currency' && format !== 'percent') return undefined;
    shown.push({ label, value: formatValue(value, format) });
  }
  return { title, metrics: shown, link: ownLink(link, origins) };
}
