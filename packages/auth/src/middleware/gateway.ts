// Middleware that admits only requests forwarded by the Nexus gateway: the X-Nexus-Assertion
// header must verify, and its claims become `ctx.state.gateway` (Koa) or `req.gateway`
// (Express). Anything else gets 401 JSON, whatever X-Nexus-* headers it carries.
import { NexusAuthError } from '../errors.js';
import {
  createGatewayAssertionVerifier, GATEWAY_ASSERTION_HEADER, type GatewayAssertionOptions, type GatewayAssertionVerifier, type GatewayIdentity,
} from '../gateway-assertion.js';

type Input = GatewayAssertionVerifier | GatewayAssertionOptions;
const toVerifier = (input: Input) => ('verify' in input ? input : createGatewayAssertionVerifier(input));

function refusal(error: NexusAuthError) {
  return { status: error.status, headers: { 'www-authenticate': error.wwwAuthenticate('nexus-gateway'), 'cache-control': 'no-store' }, body: error.toJSON() };
}

interface KoaLike {
  status: number;
  body: unknown;
  state: Record<string, unknown>;
  get(name: string): string;
  set(name: string, value: string): void;
}

export function gatewayKoa(input: Input = {}) {
  const verifier = toVerifier(input);
  return async function nexusGateway(ctx: KoaLike, next: () => Promise<unknown>) {
    let identity: GatewayIdentity;
    try {
      identity = await verifier.verify(ctx.get(GATEWAY_ASSERTION_HEADER));
    } catch (error) {
      if (!(error instanceof NexusAuthError)) throw error;
      const answer = refusal(error);
      ctx.status = answer.status;
      for (const [name, value] of Object.entries(answer.headers)) ctx.set(name, value);
      ctx.body = answer.body;
      return;
    }
    ctx.state.gateway = identity;
    await next();
  };
}

interface ExpressLikeRequest { headers: Record<string, string | string[] | undefined>; gateway?: GatewayIdentity }
interface ExpressLikeResponse { status(code: number): ExpressLikeResponse; set(name: string, value: string): ExpressLikeResponse; json(body: unknown): unknown }

export function gatewayExpress(input: Input = {}) {
  const verifier = toVerifier(input);
  return function nexusGateway(req: ExpressLikeRequest, res: ExpressLikeResponse, next: (error?: unknown) => void) {
    const value = req.headers[GATEWAY_ASSERTION_HEADER];
    verifier.verify(Array.isArray(value) ? undefined : value).then(
      (identity) => { req.gateway = identity; next(); },
      (error) => {
        if (!(error instanceof NexusAuthError)) return next(error);
        const answer = refusal(error);
        res.status(answer.status);
        for (const [name, value] of Object.entries(answer.headers)) res.set(name, value);
        res.json(answer.body);
      },
    );
  };
}
