// The dashboard's charts as SVG text, drawn on the server: the pages carry no script (strict
// CSP), so nothing may be drawn in the browser. Colours come from classes in nexus.css
// (chart-s0…chart-s5, light and dark); each chart has a <title> and the numbers it shows stay
// readable in the table or legend next to it. Every label is escaped here, as ejs would.

const WIDTH = 640;
const HEIGHT = 240;
const PAD = { top: 16, right: 12, bottom: 30, left: 58 };
const SERIES_CLASSES = 6;

export interface Series {
  name: string;
  values: number[];
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const round = (n: number) => Math.round(n * 10) / 10;
const seriesClass = (index: number) => `chart-s${index % SERIES_CLASSES}`;

/** A "nice" top of the axis (1, 2 or 5 × 10^n) at or above the largest value. */
function axisTop(max: number): number {
  if (max <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((step) => step * magnitude).find((top) => top >= max)!;
}

function frame(title: string, body: string, height = HEIGHT): string {
  return `<svg class="chart" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>${escape(title)}</title>${body}</svg>`;
}

/** The y axis: gridlines at 0, ½ and the top, labelled with `format`. */
function yAxis(top: number, format: (n: number) => string): string {
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  return [0, 0.5, 1].map((f) => {
    const y = round(PAD.top + plotHeight * (1 - f));
    return `<line class="chart-grid" x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y}" y2="${y}"/>`
      + `<text class="chart-label" x="${PAD.left - 6}" y="${y + 4}" text-anchor="end">${escape(format(top * f))}</text>`;
  }).join('');
}

/** First, middle and last label under the x axis (more would collide on a phone). */
function xLabels(labels: string[], x: (i: number) => number): string {
  const picks = [...new Set([0, Math.floor((labels.length - 1) / 2), labels.length - 1])].filter((i) => i >= 0 && i < labels.length);
  return picks.map((i, n) => {
    const anchor = n === 0 ? 'start' : n === picks.length - 1 ? 'end' : 'middle';
    return `<text class="chart-label" x="${round(x(i))}" y="${HEIGHT - 8}" text-anchor="${anchor}">${escape(labels[i])}</text>`;
  }).join('');
}

/** One line per series over the same labels (days). */
export function lineChart(title: string, labels: string[], series: Series[], format: (n: number) => string = String): string {
  const top = axisTop(Math.max(0, ...series.flatMap((s) => s.values)));
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const x = (i: number) => PAD.left + (labels.length <= 1 ? plotWidth / 2 : (plotWidth * i) / (labels.length - 1));
  const y = (v: number) => PAD.top + plotHeight * (1 - v / top);
  const lines = series.map((s, index) => {
    const points = s.values.map((v, i) => `${round(x(i))},${round(y(v))}`).join(' ');
    return `<polyline class="chart-line ${seriesClass(index)}" fill="none" points="${points}"><title>${escape(s.name)}</title></polyline>`;
  }).join('');
  return frame(title, yAxis(top, format) + lines + xLabels(labels, x));
}

/** Stacked bars: one bar per label, one segment per series (e.g. MRR by plan per day). */
export function stackedBars(title: string, labels: string[], series: Series[], format: (n: number) => string = String): string {
  const totals = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const top = axisTop(Math.max(0, ...totals));
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotWidth / Math.max(1, labels.length);
  const barWidth = round(Math.max(1, slot * 0.7));
  const bars = labels.map((label, i) => {
    let base = PAD.top + plotHeight;
    return series.map((s, index) => {
      const height = (plotHeight * (s.values[i] ?? 0)) / top;
      base -= height;
      return height > 0
        ? `<rect class="chart-bar ${seriesClass(index)}" x="${round(PAD.left + slot * i + (slot - barWidth) / 2)}" y="${round(base)}" width="${barWidth}" height="${round(height)}"><title>${escape(`${label} ${s.name}: ${format(s.values[i])}`)}</title></rect>`
        : '';
    }).join('');
  }).join('');
  return frame(title, yAxis(top, format) + bars + xLabels(labels, (i) => PAD.left + slot * i + slot / 2));
}

/** A share (0…1) as a bar against its target, marked with a line. */
export function shareAgainstTarget(title: string, share: number, target: number): string {
  const height = 76;
  const inner = WIDTH - PAD.left - PAD.right;
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  const targetX = round(PAD.left + inner * clamp(target));
  const reached = share >= target ? 'chart-ok' : 'chart-short';
  const percent = (v: number) => `${round(v * 100)}%`;
  // The target's label above the bar, the share's below it: they never overlap.
  return frame(title, `<text class="chart-label" x="${targetX}" y="12" text-anchor="middle">${escape(`target ${percent(target)}`)}</text>`
    + `<rect class="chart-track" x="${PAD.left}" y="22" width="${inner}" height="22" rx="4"/>`
    + `<rect class="chart-bar ${reached}" x="${PAD.left}" y="22" width="${round(inner * clamp(share))}" height="22" rx="4"/>`
    + `<line class="chart-target" x1="${targetX}" x2="${targetX}" y1="16" y2="50"/>`
    + `<text class="chart-label" x="${PAD.left}" y="66">${escape(`${percent(share)} of monthly actives use 2+ projects`)}</text>`, height);
}

export interface Cohort {
  cohort: string;
  size: number;
  /** Share active in month M+i, from i = 0. */
  shares: number[];
}

/** Retention cohorts as a grid: a row per sign-up month, a cell per month after, shaded by share. */
export function cohortGrid(title: string, cohorts: Cohort[]): string {
  const columns = Math.max(1, ...cohorts.map((c) => c.shares.length));
  const labelWidth = 130;
  const cell = Math.min(44, (WIDTH - labelWidth - 8) / columns);
  const row = 26;
  const height = 24 + row * Math.max(1, cohorts.length);
  const head = Array.from({ length: columns }, (_, i) => `<text class="chart-label" x="${round(labelWidth + cell * i + cell / 2)}" y="14" text-anchor="middle">M+${i}</text>`).join('');
  const body = cohorts.map((c, r) => {
    const y = 22 + row * r;
    const cells = c.shares.map((s, i) => `<rect class="chart-cell" x="${round(labelWidth + cell * i + 1)}" y="${y}" width="${round(cell - 2)}" height="${row - 2}" fill-opacity="${round(0.12 + 0.88 * s)}"><title>${escape(`${c.cohort} M+${i}: ${round(s * 100)}%`)}</title></rect>`
      + `<text class="chart-cell-label" x="${round(labelWidth + cell * i + cell / 2)}" y="${y + 17}" text-anchor="middle">${Math.round(s * 100)}</text>`).join('');
    return `<text class="chart-label" x="0" y="${y + 17}">${escape(`${c.cohort.slice(0, 7)} (${c.size})`)}</text>${cells}`;
  }).join('');
  return frame(title, head + body, height);
}
