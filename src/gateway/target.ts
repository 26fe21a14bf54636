// Which project and which path a gateway URL names: /api/gateway/:project/rest?query. The rest
// is kept as it was sent (percent-encoding included); dot segments, even encoded, are refused
// so a path cannot climb out of the project's upstream base.
import { invalidRequest } from './errors.js';

export const GATEWAY_PREFIX = '/api/gateway/';
const GATEWAY_ROOT = '/api/gateway';
const PROJECT_ID = /^[a-z0-9][a-z0-9-]{1,62}$/;
const NEEDS_SEGMENT_CHECK = /[%.\\\0]/;

export interface Target {
  projectId: string | undefined;
  /** Path and query below the project, '' or starting with / or ?. */
  rest: string;
}

/** Whether a request URL is the gateway's (also the bare root, which answers 404 unknown_project). */
export function isGatewayUrl(url: string): boolean {
  return url.startsWith(GATEWAY_ROOT) && (url.length === GATEWAY_ROOT.length || url[GATEWAY_ROOT.length] === '/' || url[GATEWAY_ROOT.length] === '?');
}

export function parseTarget(url: string): Target {
  // The bare root names no project: its query is no project id.
  if (!url.startsWith(GATEWAY_PREFIX)) return { projectId: undefined, rest: '' };
  const after = url.slice(GATEWAY_PREFIX.length);
  const end = after.search(/[/?#]/);
  const id = end === -1 ? after : after.slice(0, end);
  let rest = end === -1 ? '' : after.slice(end);
  const hash = rest.indexOf('#');
  if (hash !== -1) rest = rest.slice(0, hash);
  const query = rest.indexOf('?');
  const pathPart = query === -1 ? rest : rest.slice(0, query);
  // Without '%', '.', '\\' or NUL no segment can decode to anything the loop below refuses.
  if (!NEEDS_SEGMENT_CHECK.test(pathPart)) return { projectId: PROJECT_ID.test(id) ? id : undefined, rest };
  for (const segment of pathPart.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw invalidRequest('the path is not valid percent-encoding');
    }
    if (decoded === '.' || decoded === '..' || decoded.includes('\\') || decoded.includes('\0') || /(^|\/)\.\.?($|\/)/.test(decoded)) {
      throw invalidRequest('the path may not contain dot segments, backslashes or NUL');
    }
  }
  return { projectId: PROJECT_ID.test(id) ? id : undefined, rest };
}
