// What the hub keeps of an outbound call's answer (webhook deliveries, back-channel logouts): the
// first KB of the body as text, and a connection failure in words an operator can act on.
import type { Dispatcher } from 'undici';

/** How much of an answer's body is kept with the attempt. */
export const RESPONSE_EXCERPT_BYTES = 1_024;

/** The first RESPONSE_EXCERPT_BYTES of `body` as text; the rest is not read. */
export async function excerpt(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= RESPONSE_EXCERPT_BYTES) break;
    }
  } catch {
    // What arrived before the error is excerpt enough.
  } finally {
    body.destroy();
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES));
}

/** A failed connection in words (never the error's own message, which may name internals). */
export function describeConnectionError(error: unknown): string {
  const e = error as { code?: string; name?: string };
  if (e.code === 'EBLOCKEDADDRESS') return 'refused: the address is not public';
  if (e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') return 'timed out';
  if (e.code === 'ECONNREFUSED') return 'connection refused';
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return 'the host name does not resolve';
  return e.code ? `connection failed (${e.code})` : 'connection failed';
}
