// The tables the bench parts print: aligned text for the terminal, markdown for the README. Rows
// are records of strings keyed like the header; the first column is left-aligned, `target` (the
// last) is free text, the others are right-aligned figures. A first cell indented with spaces is
// a detail of the row above (`↳` in markdown).
export type Row<K extends string> = Record<K, string>;

export function textTable<K extends string>(header: Row<K>, lines: Array<Row<K>>): string {
  const keys = Object.keys(header) as K[];
  const all = [header, ...lines];
  const width = (k: K) => Math.max(...all.map((l) => l[k].length));
  const last = keys[keys.length - 1];
  const row = (l: Row<K>) => keys.map((k, i) => (i === 0 ? l[k].padEnd(width(k)) : k === last ? l[k] : l[k].padStart(width(k)))).join('  ').trimEnd();
  return [row(header), '-'.repeat(row(header).length), ...lines.map(row)].join('\n');
}

export function markdownTable<K extends string>(header: Row<K>, lines: Array<Row<K>>): string {
  const keys = Object.keys(header) as K[];
  const cell = (l: Row<K>, k: K, i: number) => (i === 0 && l[k].startsWith('  ') ? `↳ ${l[k].trim()}` : l[k]);
  return [
    `| ${keys.map((k) => header[k]).join(' | ')} |`,
    `| --- | ${keys.slice(1, -1).map(() => '---:').join(' | ')} | --- |`,
    ...lines.map((l) => `| ${keys.map((k, i) => cell(l, k, i)).join(' | ')} |`),
  ].join('\n');
}
