// The pages' stylesheet, read once. The only static file the hub serves.
import fs from 'node:fs';
import path from 'node:path';
import Router from '@koa/router';
import { VIEWS_DIR } from './render.js';

export function assetRoutes() {
  const css = fs.readFileSync(path.join(VIEWS_DIR, 'assets', 'nexus.css'));
  const router = new Router();
  router.get('/assets/nexus.css', (ctx) => {
    ctx.type = 'text/css; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = css;
  });
  return router;
}
