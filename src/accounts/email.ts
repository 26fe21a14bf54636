// One spelling per email address. Every path that stores, looks up or counts an email goes
// through normalizeEmail, so look-alikes (full-width letters, NFD vs NFC, case) reach the same
// account and the same login counter instead of becoming a second account or a fresh budget.

// Characters a person cannot see or type on purpose in an address: controls (NUL included,
// which PostgreSQL refuses in text), format characters (zero-width space and joiners, bidi
// overrides, BOM), surrogates, private-use and unassigned code points, and the other
// default-ignorable ones (variation selectors, Hangul fillers). Whitespace is refused too.
const INVISIBLE = /[\p{C}\p{Default_Ignorable_Code_Point}\s]/u;
const SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// Legal in a quoted local part, but in a mail header they make the address a list, a display
// name or a route: an account must be able to receive its mail, so they are refused here.
const HEADER_SYNTAX = /[<>()[\]\\,;:"]/;
export const MAX_EMAIL_LENGTH = 254;

/** NFKC (full-width and compatibility forms fold to plain ones), trimmed, lower-cased. */
export function normalizeEmail(email: string): string {
  // Lower-casing can produce sequences NFKC would compose again ('İ' → 'i' + U+0307): normalise twice.
  return email.normalize('NFKC').trim().toLowerCase().normalize('NFKC');
}

/** Whether a normalised address can belong to an account: one @, a dotted domain, nothing invisible, nothing a mail header reads as syntax. */
export function isUsableEmail(normalized: string): boolean {
  return normalized.length <= MAX_EMAIL_LENGTH && SHAPE.test(normalized) && !INVISIBLE.test(normalized) && !HEADER_SYNTAX.test(normalized);
}
