// The pages' stylesheet and the passkey script, read once: the only static files the hub serves.
import fs from 'node:fs';
import path from 'node:path';
import Router from '@koa/router';
import { VIEWS_DIR } from './render.js';

export function assetRoutes() {
  const css = fs.readFileSync(path.join(VIEWS_DIR, 'assets', 'nexus.css'));
  const passkeys = fs.readFileSync(path.join(VIEWS_DIR, 'assets', 'passkeys.js'));
  const router = new Router();
  router.get('/assets/nexus.css', (ctx) => {
    ctx.type = 'text/css; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = css;
  });
  router.get('/assets/passkeys.js', (ctx) => {
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = passkeys;
  });
  return router;
}
