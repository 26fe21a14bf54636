// Reads the file of `nexus users import` into records, each with the line it starts on, so that a
// rejected row can be reported where the operator will find it. CSV is RFC 4180 (csv-parse,
// streamed); JSON is an array of users, or an object with a `users` array.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse';

/** One record of the file: the line it starts on and its value (a CSV row as a header → text object). */
export interface SourceRecord {
  line: number;
  value: unknown;
  /** Why the record cannot be read at all (a CSV row with the wrong number of fields). */
  problem?: string;
}

export interface SourceFile {
  /** The CSV header; undefined for JSON. */
  columns?: string[];
  records: SourceRecord[];
}

/** The file as a whole cannot be read: nothing of it is imported. */
export class ImportFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportFileError';
  }
}

/** Reads `file` as JSON or CSV. */
export async function readSourceFile(file: string, container: 'json' | 'csv'): Promise<SourceFile> {
  try {
    return container === 'json' ? readJson(await readFile(file, 'utf8')) : await readCsv(file);
  } catch (error) {
    throw asFileError(error);
  }
}

/**
 * The file system's errors (ENOENT, EISDIR, EACCES…: they name the file and the cause) and
 * csv-parse's (CSV_…: the line and the fault) as ImportFileError; anything else is a bug, kept as it is.
 */
function asFileError(error: unknown): unknown {
  const { code, message } = error as { code?: unknown; message?: string };
  return typeof code === 'string' && !(error instanceof ImportFileError) ? new ImportFileError(message ?? code) : error;
}

/** Whether the file holds JSON (its first character opens an array or object), for exports that come either way. */
export async function looksLikeJson(file: string): Promise<boolean> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 4096 });
  try {
    for await (const chunk of stream) {
      const first = (chunk as string).replace(/^[\uFEFF\s]+/, '')[0];
      if (first !== undefined) return first === '[' || first === '{';
    }
    return false;
  } catch (error) {
    throw asFileError(error);
  } finally {
    stream.destroy();
  }
}

function readJson(text: string): SourceFile {
  const body = text.replace(/^\uFEFF/, '');
  let document: unknown;
  try {
    document = JSON.parse(body);
  } catch (error) {
    throw new ImportFileError(`not valid JSON: ${(error as Error).message}`);
  }
  const nested = !Array.isArray(document);
  const users = nested && typeof document === 'object' && document !== null ? (document as Record<string, unknown>).users : document;
  if (!Array.isArray(users)) throw new ImportFileError('the JSON must be an array of users or an object with a "users" array');
  const lines = elementLines(body, nested);
  return { records: users.map((value, i) => ({ line: lines[i], value })) };
}

/**
 * The line each element of the users array starts on: the array is the document itself or (when
 * `nested`) the document's `users` member. `text` is valid JSON, so outside strings only
 * brackets, commas and colons matter, and strings hold no raw line break.
 */
function elementLines(text: string, nested: boolean): number[] {
  const target = nested ? 2 : 1; // how deep the users array's elements sit
  let starts: number[] = [];
  let inUsers = !nested;
  let depth = 0;
  let line = 1;
  let lastKey = ''; // the last string at the top level of a nested document: the key of what follows
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    if (c === '\n' || c === ' ' || c === '\t' || c === '\r') continue;
    if (expectElement && c !== ']') starts.push(line);
    expectElement = false;
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (nested && depth === 1) lastKey = text.slice(i, end + 1);
      i = end;
    } else if (c === '[' || c === '{') {
      depth++;
      // A repeated "users" member: JSON.parse keeps the last one, and so does this.
      if (nested && depth === 2 && c === '[' && lastKey === '"users"') [inUsers, starts] = [true, []];
      expectElement = inUsers && depth === target && c === '[';
    } else if (c === ']' || c === '}') {
      if (nested && depth === 2) inUsers = false;
      depth--;
    } else if (c === ',') {
      expectElement = inUsers && depth === target;
    }
  }
  return starts;
}

async function readCsv(file: string): Promise<SourceFile> {
  const parser = parse({ bom: true, raw: true, relax_column_count: true, skip_empty_lines: true });
  // pipe() does not pass the file's errors on: without this a missing file would never end.
  createReadStream(file).on('error', (error) => parser.destroy(error)).pipe(parser);
  let columns: string[] | undefined;
  const records: SourceRecord[] = [];
  // Lines are counted here: csv-parse's own count drifts on CRLF files. Each record's raw text
  // follows the previous one's, led by the empty lines skipped before it; a quoted field may
  // span several lines.
  let next = 1;
  for await (const { record, raw } of parser as AsyncIterable<{ record: string[]; raw: string }>) {
    const line = next + lineBreaks(/^[\r\n]*/.exec(raw)![0]);
    next += lineBreaks(raw);
    if (!columns) {
      columns = record.map((name) => name.trim());
      continue;
    }
    const problem = record.length === columns.length ? undefined : `has ${record.length} fields, the header has ${columns.length}`;
    records.push({ line, value: Object.fromEntries(columns.map((name, i) => [name, record[i] ?? ''])), problem });
  }
  if (!columns) throw new ImportFileError('the file is empty: a CSV import needs a header row');
  return { columns, records };
}

const lineBreaks = (text: string) => text.match(/\r\n|\r|\n/g)?.length ?? 0;
