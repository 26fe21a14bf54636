// CSRF tokens for our interaction forms: an HMAC of the interaction id under a server key. Only
// a page the hub rendered for that interaction can hold a valid token, and the interaction id is
// itself bound to the browser by oidc-provider's signed interaction cookie.
import { createHmac, hkdfSync } from 'node:crypto';
import { constantTimeEqual } from '../secrets/tokens.js';

export class Csrf {
  private readonly key: Buffer;

  constructor(masterKey: Buffer) {
    this.key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'nexus csrf v1', 32));
  }

  token(interactionId: string): string {
    return createHmac('sha256', this.key).update(interactionId).digest('base64url');
  }

  verify(interactionId: string, presented: unknown): boolean {
    return typeof presented === 'string' && constantTimeEqual(this.token(interactionId), presented);
  }
}
