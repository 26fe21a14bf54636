// Applies clients.json to the registry: adds new projects, updates changed ones, and only
// reports (never deletes) registered projects that the file no longer lists.
import fs from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { ClientValidationError, parseClientDefinition, type ClientDefinition } from './definition.js';
import type { ClientRegistry } from './registry.js';
import { SYSTEM_ACTOR, type Actor } from '../accounts/identity-events.js';

export interface SyncResult {
  created: Array<{ id: string; secret: string | undefined }>;
  updated: string[];
  unchanged: string[];
  /** Registered but absent from the file: left alone, reported. */
  notInFile: string[];
}

export async function readClientsFile(file: string): Promise<ClientDefinition[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new ClientValidationError([`cannot read ${file}: ${reason}`]);
  }
  const list = (parsed as { clients?: unknown }).clients;
  if (!Array.isArray(list)) throw new ClientValidationError([`${file} must be {"clients": [...]}`]);
  const problems: string[] = [];
  const definitions: ClientDefinition[] = [];
  for (const entry of list) {
    try {
      definitions.push(parseClientDefinition(entry));
    } catch (error) {
      if (error instanceof ClientValidationError) problems.push(...error.problems);
      else throw error;
    }
  }
  const ids = definitions.map((d) => d.id);
  for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i))) problems.push(`client "${id}" is listed twice`);
  if (problems.length) throw new ClientValidationError(problems);
  return definitions;
}

export async function syncClients(registry: ClientRegistry, definitions: ClientDefinition[], actor: Actor = SYSTEM_ACTOR): Promise<SyncResult> {
  const existing = new Map((await registry.list()).map((client) => [client.id, client]));
  const result: SyncResult = { created: [], updated: [], unchanged: [], notInFile: [] };
  for (const definition of definitions) {
    const current = existing.get(definition.id);
    if (!current) {
      const { secret } = await registry.add(definition, actor);
      result.created.push({ id: definition.id, secret });
      continue;
    }
    const { enabled: _e, rotationGraceUntil: _g, createdAt: _c, updatedAt: _u, ...currentDefinition } = current;
    if (isDeepStrictEqual(currentDefinition, definition)) {
      result.unchanged.push(definition.id);
    } else {
      await registry.update(definition.id, definition, actor);
      result.updated.push(definition.id);
    }
  }
  const listed = new Set(definitions.map((d) => d.id));
  result.notInFile = [...existing.keys()].filter((id) => !listed.has(id));
  return result;
}
