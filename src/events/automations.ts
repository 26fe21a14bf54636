// Cross-project automation rules (automations.json, AUTOMATIONS_FILE): on an event type from a
// source, call another project's API through the gateway as the event's subject user. The body
// and path are declarative mappings of the event — `{{subject}}`, `{{data.dealValue}}`, … — never
// code: a string that is exactly one placeholder takes the value as it is (a number stays a
// number), a placeholder inside a longer string is replaced by the value as text (in a path,
// percent-encoded). Validated at start like plans.json: one line per problem, exit 78.
import fs from 'node:fs';
import type { StoredEvent } from './event.js';
import { HUB_SOURCE, isEventType } from './event.js';

export interface AutomationRule {
  id: string;
  description: string;
  on: { source: string; type: string };
  call: { project: string; method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; path: string; body?: unknown };
}

export class AutomationsError extends Error {
  constructor(readonly problems: string[], file: string) {
    super(`Invalid automations file ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'AutomationsError';
  }
}

const ID = /^[a-z0-9][a-z0-9-]{1,62}$/;
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
const PLACEHOLDER = /\{\{\s*([^}]*?)\s*\}\}/g;
const EXACT = /^\{\{\s*([^}]*?)\s*\}\}$/;
// Where a placeholder may point: a field of the event as delivered, then names or indexes.
const PATH = /^(id|type|source|subject|sequence|occurredAt|actor|data)(\.[A-Za-z0-9_]{1,64}){0,8}$/;
// The text of a path around its placeholders: RFC 3986 path characters and percent-escapes only.
// Anything else (a space, a quote, non-ASCII) undici refuses to send or the project reads
// otherwise, so every run of the rule would fail; placeholder values are percent-encoded.
const PATH_TEXT = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$/;
// Fields a rule and its parts may have ("$comment" and other "$" keys are notes): a misspelt
// "body" would otherwise send every call without one.
const FIELDS = { rule: ['id', 'description', 'on', 'call'], on: ['source', 'type'], call: ['project', 'method', 'path', 'body'] };

function pathTextAllowed(text: string): boolean {
  if (!PATH_TEXT.test(text)) return false;
  // As the gateway reads it (src/gateway/target.ts): each segment decoded, no `.`/`..`, `\\` or NUL.
  return text.split('/').every((segment) => {
    try {
      const decoded = decodeURIComponent(segment);
      return decoded !== '.' && decoded !== '..' && !/[\\\u0000]|(^|\/)\.\.?($|\/)/.test(decoded);
    } catch {
      return false;
    }
  });
}

function unknownFields(value: Record<string, unknown>, allowed: string[], prefix: string, at: string, problems: string[]) {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
  for (const name of Object.keys(value)) {
    if (!name.startsWith('$') && !allowed.includes(name)) problems.push(`${at}: unknown field "${prefix}${name.slice(0, 40)}"`);
  }
}

function placeholders(value: unknown, found: string[] = []): string[] {
  if (typeof value === 'string') for (const match of value.matchAll(PLACEHOLDER)) found.push(match[1]);
  else if (Array.isArray(value)) value.forEach((item) => placeholders(item, found));
  else if (value && typeof value === 'object') Object.values(value).forEach((item) => placeholders(item, found));
  return found;
}

/** The value at a dotted path of the event as receivers see it, or undefined. */
function lookup(event: StoredEvent, path: string): unknown {
  let value: unknown = event;
  for (const name of path.split('.')) {
    // Own properties only: `constructor` or `__proto__` name nothing of the event.
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, name)) return undefined;
    value = (value as Record<string, unknown>)[name];
  }
  return value;
}

const asText = (value: unknown) => (value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value));

/** The mapping applied to an event: exact placeholders keep their type, embedded ones become text. */
export function render(template: unknown, event: StoredEvent): unknown {
  if (typeof template === 'string') {
    const exact = EXACT.exec(template);
    if (exact) return lookup(event, exact[1]) ?? null;
    return template.replace(PLACEHOLDER, (_, path: string) => asText(lookup(event, path)));
  }
  if (Array.isArray(template)) return template.map((item) => render(item, event));
  if (template && typeof template === 'object') return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, render(v, event)]));
  return template;
}

export function renderPath(path: string, event: StoredEvent): string {
  return path.replace(PLACEHOLDER, (_, name: string) => encodeURIComponent(asText(lookup(event, name))));
}

function parseRule(input: unknown, index: number, projects: Set<string>, problems: string[]): AutomationRule | undefined {
  const where = `rules[${index}]`;
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    problems.push(`${where}: must be an object`);
    return undefined;
  }
  const raw = input as Record<string, unknown>;
  const before = problems.length;
  const id = typeof raw.id === 'string' ? raw.id : '';
  const at = id ? `rule "${id}"` : where;
  if (!ID.test(id)) problems.push(`${where}: id must be 2-63 lowercase letters, digits or dashes`);
  unknownFields(raw, FIELDS.rule, '', at, problems);
  if (raw.description !== undefined && typeof raw.description !== 'string') problems.push(`${at}: description must be text`);
  const on = (raw.on ?? {}) as Record<string, unknown>;
  const source = typeof on.source === 'string' ? on.source : '';
  if (source !== HUB_SOURCE && !projects.has(source)) problems.push(`${at}: on.source must be "${HUB_SOURCE}" or a registered project (got "${source.slice(0, 63)}")`);
  unknownFields(on, FIELDS.on, 'on.', at, problems);
  if (!isEventType(on.type)) problems.push(`${at}: on.type must be an event type such as deal.won`);
  const call = (raw.call ?? {}) as Record<string, unknown>;
  unknownFields(call, FIELDS.call, 'call.', at, problems);
  const project = typeof call.project === 'string' ? call.project : '';
  if (!projects.has(project)) problems.push(`${at}: call.project must be a registered project (got "${project.slice(0, 63)}")`);
  const method = call.method === undefined ? 'POST' : typeof call.method === 'string' ? call.method.toUpperCase() : '';
  if (!METHODS.has(method)) problems.push(`${at}: call.method must be one of ${[...METHODS].join(', ')}`);
  const path = typeof call.path === 'string' ? call.path : '';
  if (!path.startsWith('/') || path.length > 500 || !pathTextAllowed(path.replace(PLACEHOLDER, 'x'))) {
    problems.push(`${at}: call.path must start with / and hold only URL path characters: no dot segments (even percent-encoded), backslashes, spaces, query or fragment`);
  }
  for (const name of [...placeholders(path), ...placeholders(call.body)]) {
    if (!PATH.test(name)) problems.push(`${at}: {{${name.slice(0, 60)}}} names nothing of an event (use id, type, source, subject, sequence, occurredAt, actor.*, data.*)`);
  }
  if (problems.length > before) return undefined;
  return {
    id, description: typeof raw.description === 'string' ? raw.description : '', on: { source, type: on.type as string },
    call: { project, method: method as AutomationRule['call']['method'], path, ...(call.body !== undefined ? { body: call.body } : {}) },
  };
}

export class Automations {
  private readonly byId: Map<string, AutomationRule>;

  constructor(readonly rules: AutomationRule[]) {
    this.byId = new Map(rules.map((rule) => [rule.id, rule]));
  }

  /**
   * Reads and validates the file. A missing file is no rules unless the operator named it
   * (`required`): an AUTOMATIONS_FILE that is not there is a mistake worth stopping for.
   */
  static fromFile(file: string, projectIds: string[], required: boolean): Automations {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !required) return new Automations([]);
      throw new AutomationsError([`cannot be read: ${(error as Error).message}`], file);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new AutomationsError([`is not valid JSON: ${(error as Error).message}`], file);
    }
    const rulesInput = (parsed as { rules?: unknown })?.rules;
    if (!Array.isArray(rulesInput)) throw new AutomationsError(['must be an object with a "rules" list'], file);
    const problems: string[] = [];
    const projects = new Set(projectIds);
    const rules = rulesInput.map((rule, index) => parseRule(rule, index, projects, problems)).filter((rule): rule is AutomationRule => rule !== undefined);
    const seen = new Set<string>();
    for (const rule of rules) {
      if (seen.has(rule.id)) problems.push(`rule "${rule.id}" is defined twice`);
      seen.add(rule.id);
    }
    if (problems.length) throw new AutomationsError(problems, file);
    return new Automations(rules);
  }

  get(id: string): AutomationRule | undefined {
    return this.byId.get(id);
  }

  /** For the event store: the rules of a source, as (rule id, event type) pairs. */
  rulesOf = (source: string) => this.rules.filter((rule) => rule.on.source === source).map((rule) => ({ rule: rule.id, type: rule.on.type }));
}
