// Shared parts of the analytics tests: calling /api/analytics/* and reading its CSV.
import type { TestHub } from '../support/hub.js';

export const today = () => new Date().toISOString().slice(0, 10);

/** T - n days, 'YYYY-MM-DD'. */
export const daysAgo = (n: number) => new Date(Date.parse(`${today()}T00:00:00Z`) - n * 86_400_000).toISOString().slice(0, 10);

export async function analytics(t: TestHub, token: string | undefined, path: string, init: RequestInit = {}) {
  const response = await fetch(`${t.url}/api/analytics/${path}`, {
    ...init, headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) },
  });
  const text = await response.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text, headers: response.headers };
}

/** RFC 4180 parser (quoted fields, doubled quotes, CRLF), independent of src/analytics/csv.ts. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') { row.push(field); field = ''; } else if (char === '\r' && text[i + 1] === '\n') {
      row.push(field); rows.push(row); row = []; field = ''; i++;
    } else field += char;
  }
  if (field !== '' || row.length) throw new Error('CSV does not end with CRLF');
  return rows;
}

/** The CSV of an answer with rows, as objects with the JSON's values (numbers as numbers). */
export function csvRows(text: string): Array<Record<string, string | number>> {
  const [header, ...rows] = parseCsv(text);
  return rows.map((cells) => Object.fromEntries(header.map((name, i) => [name, cells[i] !== '' && !Number.isNaN(Number(cells[i])) ? Number(cells[i]) : cells[i]])));
}
