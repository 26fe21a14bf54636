// CSV (RFC 4180: CRLF, fields quoted when they hold a comma, quote or line break) of an analytics
// answer: its `rows` as a table, or, for an answer without rows (the overview), one line per
// figure with its dotted path. Either way the CSV holds the same numbers as the JSON.
type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

function field(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const line = (values: unknown[]) => `${values.map(field).join(',')}\r\n`;

function flatten(value: Json, path: string, out: Array<[string, Json]>) {
  if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      const name = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      flatten(inner, name, out);
    }
  } else {
    out.push([path, value]);
  }
}

export function toCsv(answer: object): string {
  const { rows } = answer as { rows?: unknown };
  if (Array.isArray(rows)) {
    const columns = [...new Set(rows.flatMap((row) => Object.keys(row as object)))];
    return line(columns) + rows.map((row) => line(columns.map((column) => (row as Record<string, unknown>)[column]))).join('');
  }
  const figures: Array<[string, Json]> = [];
  flatten(answer as Json, '', figures);
  return line(['figure', 'value']) + figures.map((figure) => line(figure)).join('');
}
