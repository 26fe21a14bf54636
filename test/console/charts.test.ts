// The server-drawn charts: valid SVG for any data, also none at all (a new hub), labels escaped.
import { describe, expect, it } from 'vitest';
import { cohortGrid, lineChart, shareAgainstTarget, stackedBars } from '../../src/console/charts.js';

const wellFormed = (svg: string) => {
  expect(svg).toMatch(/^<svg class="chart" viewBox="0 0 \d+ \d+" role="img" aria-label="[^"]*" xmlns="http:\/\/www.w3.org\/2000\/svg"><title>/);
  expect(svg.endsWith('</svg>')).toBe(true);
  expect(svg).not.toMatch(/NaN|undefined|Infinity/);
};

describe('charts', () => {
  it('draw nothing without failing when there is no data', () => {
    wellFormed(lineChart('empty', [], []));
    wellFormed(lineChart('one day', ['2026-12-01'], [{ name: 'a', values: [0] }]));
    wellFormed(stackedBars('empty', [], []));
    wellFormed(stackedBars('zeros', ['d1', 'd2'], [{ name: 'pro', values: [0, 0] }]));
    wellFormed(shareAgainstTarget('none', 0, 0.3));
    wellFormed(cohortGrid('none', []));
  });

  it('scale to the data and mark the target', () => {
    const line = lineChart('t', ['a', 'b', 'c'], [{ name: 's', values: [0, 7, 3] }]);
    expect(line).toContain('>10</text>'); // the axis top: the next 1-2-5 step above 7
    expect((line.match(/<polyline/g) ?? []).length).toBe(1);
    const bars = stackedBars('t', ['a', 'b'], [{ name: 'pro', values: [100, 200] }, { name: 'business', values: [0, 300] }], (n) => `$${n}`);
    expect((bars.match(/<rect class="chart-bar/g) ?? []).length).toBe(3); // a zero segment draws nothing
    expect(bars).toContain('>$500</text>');
    const share = shareAgainstTarget('t', 0.45, 0.3);
    expect(share).toContain('chart-ok');
    expect(shareAgainstTarget('t', 0.1, 0.3)).toContain('chart-short');
    const grid = cohortGrid('t', [{ cohort: '2026-11-01', size: 4, shares: [1, 0.5] }]);
    expect(grid).toContain('2026-11 (4)');
    expect(grid).toContain('>50</text>');
  });

  it('escape every label', () => {
    const svg = lineChart('<b>"x"</b>', ['<img src=x>'], [{ name: '&<script>', values: [1] }]);
    expect(svg).not.toMatch(/<b>|<img|<script/);
    expect(svg).toContain('&#60;script&#62;');
  });
});
