// The rows of `nexus users import`: each format's fields mapped to the hub's, then checked with
// the rules every account follows (one email spelling, Users' name and avatar rules, a bcrypt
// hash verifyPassword can check, roles in registered projects). A row that fails is rejected
// with its reason; the others go on.
import { ROLES, type Role } from '../clients/definition.js';
import { isUsableEmail, normalizeEmail } from './email.js';
import { bcryptCost, isBcryptHash, MAX_IMPORTED_COST } from './passwords.js';
import { avatarUrlOf, nameProblem } from './users.js';
import { ImportFileError, type SourceFile, type SourceRecord } from './user-import-file.js';

export const IMPORT_FORMATS = ['json', 'csv', 'supabase'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** The fields of the `json` format; `password_hash` may also be spelt `passwordHash`. */
const JSON_FIELDS = ['email', 'password_hash', 'passwordHash', 'name', 'avatar_url', 'email_verified', 'roles'];
/** The columns of the `csv` format. */
const CSV_COLUMNS = ['email', 'password_hash', 'name', 'avatar_url', 'email_verified', 'roles'];

/** A row ready to be imported. */
export interface ImportUser {
  line: number;
  email: string;
  passwordHash: string | null;
  fullName: string | null;
  avatarUrl: string | null;
  emailVerified: boolean;
  disabled: boolean;
  roles: Array<{ project: string; role: Role }>;
}

export interface RejectedRow {
  line: number;
  /** The row's address as the operator will recognise it, printable on one line. */
  email: string;
  reason: string;
}

export interface ImportRules {
  /** Projects a row may give roles in. */
  projects: ReadonlySet<string>;
  /** The hub's own project: its roles make hub administrators, which a file from elsewhere must not. */
  hubProject?: string;
}

/** A row's values under the hub's names, before they are checked. */
interface Fields {
  email: unknown;
  passwordHash: unknown;
  name: unknown;
  avatarUrl: unknown;
  emailVerified: boolean;
  roles: unknown;
  disabled: boolean;
}

class RowProblem extends Error {}

/** Checks every record: the users to import, and the rows rejected with their reasons. */
export function checkRows(source: SourceFile, format: ImportFormat, rules: ImportRules): { users: ImportUser[]; rejected: RejectedRow[] } {
  if (format !== 'supabase' && fieldsOf(source).includes('encrypted_password')) {
    throw new ImportFileError('it looks like a Supabase export (it has encrypted_password): use --format supabase');
  }
  if (source.columns) checkColumns(source.columns, format);
  const users: ImportUser[] = [];
  const rejected: RejectedRow[] = [];
  // The first row of an address is the one considered; later ones are rejected, whatever the first's fate.
  const firstLine = new Map<string, number>();
  for (const record of source.records) {
    const email = addressOf(record.value);
    const reject = (reason: string) => rejected.push({ line: record.line, email: shown(email, record.value), reason });
    const first = email === undefined ? undefined : firstLine.get(email);
    if (first !== undefined) {
      reject(`duplicate: line ${first} has the same address`);
      continue;
    }
    if (email !== undefined) firstLine.set(email, record.line);
    try {
      users.push(checkRow(record, format, rules));
    } catch (error) {
      if (!(error instanceof RowProblem)) throw error;
      reject(error.message);
    }
  }
  return { users, rejected };
}

/** A CSV header: a column the format does not know would be ignored silently, so the file is refused. */
function checkColumns(columns: string[], format: ImportFormat) {
  if (!columns.includes('email')) throw new ImportFileError('the CSV header has no "email" column');
  const repeated = columns.find((name, i) => columns.indexOf(name) !== i);
  if (repeated !== undefined) throw new ImportFileError(`the CSV header names the column ${quote(repeated)} twice`);
  const unknown = format === 'csv' ? columns.find((name) => !CSV_COLUMNS.includes(name)) : undefined;
  if (unknown !== undefined) throw new ImportFileError(`unknown CSV column ${quote(unknown)} (the columns are ${CSV_COLUMNS.join(', ')})`);
}

/** The CSV header, or the fields of the first JSON row. */
function fieldsOf(source: SourceFile): string[] {
  const first = source.records[0]?.value;
  return source.columns ?? (typeof first === 'object' && first !== null ? Object.keys(first) : []);
}

function checkRow(record: SourceRecord, format: ImportFormat, rules: ImportRules): ImportUser {
  if (record.problem) throw new RowProblem(record.problem);
  if (typeof record.value !== 'object' || record.value === null || Array.isArray(record.value)) throw new RowProblem('not a JSON object');
  const fields = format === 'supabase' ? supabaseFields(record.value as Record<string, unknown>) : ownFields(record.value as Record<string, unknown>);
  const address = text(fields.email, 'email');
  if (address === undefined) throw new RowProblem('no email address');
  const email = normalizeEmail(address);
  if (!isUsableEmail(email)) throw new RowProblem('not a usable email address');
  const passwordHash = text(fields.passwordHash, 'the password hash');
  if (passwordHash !== undefined && !isBcryptHash(passwordHash)) {
    throw new RowProblem('the password hash is not bcrypt ($2a$, $2b$ or $2y$, a cost of 04 to 31, 53 characters of salt and hash)');
  }
  if (passwordHash !== undefined && bcryptCost(passwordHash) > MAX_IMPORTED_COST) {
    throw new RowProblem(`the bcrypt cost ${bcryptCost(passwordHash)} is above ${MAX_IMPORTED_COST}: every sign-in would hold a password worker for too long (rehash it, or import without it and let the user reset the password)`);
  }
  const fullName = text(fields.name, 'name')?.trim() ?? '';
  const badName = nameProblem(fullName);
  if (badName) throw new RowProblem(badName);
  const avatar = avatarUrlOf(text(fields.avatarUrl, 'avatar_url')?.trim() ?? '');
  if ('problem' in avatar) throw new RowProblem(avatar.problem);
  return {
    line: record.line, email, passwordHash: passwordHash ?? null, fullName: fullName || null, avatarUrl: avatar.url || null,
    emailVerified: fields.emailVerified, disabled: fields.disabled, roles: rolesOf(fields.roles, rules),
  };
}

/** The `json` and `csv` formats (a CSV row has only CSV_COLUMNS: checkColumns refused any other). */
function ownFields(row: Record<string, unknown>): Fields {
  const unknown = Object.keys(row).find((key) => !JSON_FIELDS.includes(key));
  if (unknown !== undefined) throw new RowProblem(`unknown field ${quote(unknown)}`);
  if (present(row.password_hash) && present(row.passwordHash)) throw new RowProblem('give password_hash or passwordHash, not both');
  return {
    email: row.email, passwordHash: present(row.password_hash) ? row.password_hash : row.passwordHash, name: row.name, avatarUrl: row.avatar_url,
    emailVerified: flag(row.email_verified), roles: row.roles, disabled: false,
  };
}

/**
 * A row of Supabase's `auth.users` (as JSON or CSV; other columns are ignored). Soft-deleted
 * users are rejected: the person left, and their row may no longer hold their address. Users
 * banned until a future time are imported disabled (`nexus users enable` lifts it: the hub has no
 * timed ban). `raw_user_meta_data` is whatever the app put there: its name and picture are used
 * when they are text, and anything else in it is ignored.
 */
function supabaseFields(row: Record<string, unknown>): Fields {
  if (present(row.deleted_at)) throw new RowProblem('deleted in Supabase (deleted_at is set)');
  const meta = metadataOf(row.raw_user_meta_data);
  return {
    email: row.email, passwordHash: row.encrypted_password, name: firstText(meta.full_name, meta.name), avatarUrl: firstText(meta.avatar_url, meta.picture),
    emailVerified: present(row.email_confirmed_at), roles: row.roles, disabled: bannedNow(row.banned_until),
  };
}

function metadataOf(value: unknown): Record<string, unknown> {
  let meta = value;
  if (typeof value === 'string' && value !== '') {
    try {
      meta = JSON.parse(value);
    } catch {
      throw new RowProblem('raw_user_meta_data is not JSON');
    }
  }
  return typeof meta === 'object' && meta !== null && !Array.isArray(meta) ? meta as Record<string, unknown> : {};
}

function bannedNow(value: unknown): boolean {
  const until = text(value, 'banned_until');
  if (until === undefined) return false;
  if (until === 'infinity') return true;
  const time = Date.parse(until);
  if (Number.isNaN(time)) throw new RowProblem('banned_until is not a time');
  return time > Date.now();
}

/**
 * `{ "sales": "user" }`, or `sales:user;liminal:admin` as a CSV cell holds it. Roles in the hub's
 * own project are refused: an administrator grants them (`nexus access grant`).
 */
function rolesOf(value: unknown, rules: ImportRules): ImportUser['roles'] {
  if (!present(value)) return [];
  let pairs: Array<[string, unknown]>;
  if (typeof value === 'string') {
    pairs = value.split(';').filter((part) => part.trim() !== '').map((part) => {
      const colon = part.indexOf(':');
      if (colon < 0) throw new RowProblem(`roles must look like "sales:user;liminal:admin", not ${quote(part)}`);
      return [part.slice(0, colon), part.slice(colon + 1)];
    });
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    pairs = Object.entries(value);
  } else {
    throw new RowProblem('roles must be an object like {"sales": "user"} or text like "sales:user;liminal:admin"');
  }
  const roles: ImportUser['roles'] = [];
  for (const [name, role] of pairs) {
    const project = name.trim();
    if (project === rules.hubProject) throw new RowProblem(`roles in the hub's own project (${project}) are not imported: use \`nexus access grant\``);
    if (!rules.projects.has(project)) throw new RowProblem(`unknown project ${quote(project)}`);
    if (roles.some((given) => given.project === project)) throw new RowProblem(`project ${project} is given more than one role`);
    const trimmed = typeof role === 'string' ? role.trim() : role;
    if (!(ROLES as readonly unknown[]).includes(trimmed)) throw new RowProblem(`the role in ${project} must be one of ${ROLES.join(', ')}, not ${quote(typeof role === 'string' ? role : JSON.stringify(role))}`);
    roles.push({ project, role: trimmed as Role });
  }
  return roles;
}

/** Absent: undefined, null, or empty (CSV has no null, and Supabase writes '' for no password). */
function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

function text(value: unknown, field: string): string | undefined {
  if (!present(value)) return undefined;
  if (typeof value !== 'string') throw new RowProblem(`${field} must be text`);
  return value;
}

function firstText(...values: unknown[]): string | undefined {
  return values.find((value): value is string => typeof value === 'string' && value !== '');
}

/** JSON's booleans, or a CSV cell as spreadsheets and PostgreSQL write them. */
function flag(value: unknown): boolean {
  if (typeof value === 'boolean' || !present(value)) return value === true;
  if (typeof value === 'string' && /^(true|t|yes|1)$/i.test(value.trim())) return true;
  if (typeof value === 'string' && /^(false|f|no|0)$/i.test(value.trim())) return false;
  throw new RowProblem('email_verified must be true or false');
}

/** The record's address in its one spelling, when it has one that can be compared. */
function addressOf(value: unknown): string | undefined {
  const email = typeof value === 'object' && value !== null ? (value as Record<string, unknown>).email : undefined;
  return typeof email === 'string' && email !== '' ? normalizeEmail(email) : undefined;
}

function shown(email: string | undefined, value: unknown): string {
  if (email === undefined) return 'no email';
  return isUsableEmail(email) ? email : quote(String((value as Record<string, unknown>).email));
}

/**
 * A value from the file, quoted for a message: short, on one line, with controls and invisible
 * characters escaped, so a hostile file cannot forge lines or hide text in the report.
 */
function quote(value: string): string {
  const short = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(short).replace(/[\p{Cf}\p{Co}\p{Cn}\u2028\u2029]/gu, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}
