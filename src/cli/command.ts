// The shape of a CLI command and the errors commands raise. Commands are thin: they read flags,
// call a library and return data; main.ts prints it as text or JSON.
import type { ParseArgsConfig } from 'node:util';
import type { CliContext } from './context.js';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Output {
  /** What --json prints. */
  data: unknown;
  /** What a person reads. */
  text: string;
  /**
   * The command did its work but not all of it (an import with rejected rows): `lines` go to
   * standard error, then `nexus: <summary>`, and the exit status is 1.
   */
  incomplete?: { lines: string[]; summary: string };
}

export interface Command {
  summary: string;
  /** Usage line after `nexus <group> <name>`, e.g. `ID [--name NAME]`. */
  usage: string;
  options?: Options;
  /** Positional arguments required, in order (names for messages). */
  args?: string[];
  /** Whether the command needs the database (all but a few do). */
  run(ctx: CliContext, values: Values, args: string[]): Promise<Output>;
}

export type CommandGroup = { summary: string; commands: Record<string, Command> };

/** A failure the operator can fix; printed as one line, exit status 1. */
export class CliError extends Error {
  constructor(message: string, readonly code = 'error') {
    super(message);
    this.name = 'CliError';
  }
}

/** Wrong words on the command line; exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function requireString(values: Values, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`missing --${name}`);
  return value;
}

export function optionalString(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function list(values: Values, name: string): string[] | undefined {
  const value = values[name];
  return Array.isArray(value) ? value : undefined;
}

/** Formats rows as aligned columns. */
export function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((row) => columns.map((column) => format(row[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((row) => row[i].length)));
  const line = (values: string[]) => values.map((value, i) => value.padEnd(widths[i])).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

function format(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}
