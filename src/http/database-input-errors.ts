// Database errors caused by the caller's input rather than by the hub: text PostgreSQL cannot
// store (a NUL byte, invalid UTF-8, a \u0000 escape in JSON, a lone surrogate), values of the
// wrong form for a column (a malformed UUID), values too long or out of range. They reach the
// error handler from pg directly (SQLSTATE in `code`), from Prisma's driver adapter (a
// DriverAdapterError whose `cause` carries the SQLSTATE as `originalCode`), or as Prisma request
// errors; each means "bad request", never "server error". Routes validate what they can at the
// edge; this is the safety net for what they miss.

// Class 22 "data exception" (22021 invalid byte sequence, 22P02 invalid text representation,
// 22P05 untranslatable character, 22001 too long, 22003 out of range, ...) and class 54
// "program limit exceeded" (54000: e.g. an index row too large for a huge key).
const INPUT_SQLSTATE = /^(22|54)[0-9A-Z]{3}$/;
// Prisma's own codes for the same causes: too long, invalid value, input error, out of range,
// inconsistent column data (a malformed UUID), number too large.
const INPUT_PRISMA_CODES = new Set(['P2000', 'P2006', 'P2007', 'P2019', 'P2020', 'P2023', 'P2033']);
// An unknown request error names its cause only in its message; Prisma's query engine also
// refuses strings with a lone UTF-16 surrogate before they reach PostgreSQL ("JSON Error:
// unexpected end of hex escape", "lone leading surrogate in hex escape").
const INPUT_MESSAGE = /\b(22021|22P02|22P05|54000)\b|invalid byte sequence|invalid input syntax|unsupported Unicode escape sequence|JSON Error: (unexpected end of hex escape|lone leading surrogate|invalid unicode code point)/;

interface Candidate {
  name?: unknown;
  code?: unknown;
  originalCode?: unknown;
  severity?: unknown;
  message?: unknown;
  cause?: unknown;
}

/** The SQLSTATE or Prisma code that makes `error` an input error, or undefined when it is not one. */
export function databaseInputErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  // Follow the `cause` chain a little way: adapters and Prisma wrap the driver's error.
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const { name, code, originalCode, severity, message, cause } = current as Candidate;
    if (typeof originalCode === 'string' && INPUT_SQLSTATE.test(originalCode)) return originalCode;
    // A pg error (it has a severity) or an adapter's cause object (kind postgres).
    if (typeof code === 'string' && INPUT_SQLSTATE.test(code) && (typeof severity === 'string' || (current as { kind?: unknown }).kind === 'postgres')) return code;
    const prisma = typeof name === 'string' && name.startsWith('PrismaClient');
    if (prisma && typeof code === 'string' && INPUT_PRISMA_CODES.has(code)) return code;
    if (prisma && name === 'PrismaClientUnknownRequestError' && typeof message === 'string' && INPUT_MESSAGE.test(message)) return 'unknown';
    if (name === 'DriverAdapterError' && typeof message === 'string' && INPUT_MESSAGE.test(message)) return 'adapter';
    current = cause;
  }
  return undefined;
}
