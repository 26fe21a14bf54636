// Preloaded (`--import bench/query-counter.mjs`) into a hub by bench/login-profile.ts: counts
// every SQL statement the process sends through `pg` (Prisma's driver adapter uses it too), by
// statement text, and on SIGUSR2 writes the counts so far to $BENCH_QUERY_COUNT_FILE. Inert
// without that variable. Plain JavaScript so that it loads into `node dist/server.js`.
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';

const file = process.env.BENCH_QUERY_COUNT_FILE;
if (file) {
  const pg = createRequire(path.join(process.cwd(), 'package.json'))('pg');
  const counts = new Map();
  // Each statement is counted under the request it was sent for (method and path, ids elided).
  const request = new AsyncLocalStorage();
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function emitInRequest(event, req, ...rest) {
    if (event !== 'request') return emit.call(this, event, req, ...rest);
    const route = `${req.method} ${req.url.split('?')[0].replace(/\/interaction\/[^/]+/, '/interaction/:uid').replace(/\/auth\/[^/]+/, '/auth/:uid')}`;
    return request.run(route, () => emit.call(this, event, req, ...rest));
  };
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function countedQuery(config, ...rest) {
    const text = typeof config === 'string' ? config : config?.text ?? '(no text)';
    const sql = text.replace(/\s+/g, ' ').replace(/"public"\./g, '');
    const where = sql.indexOf(' WHERE ');
    const short = where > 60 ? `${sql.slice(0, 60)} … ${sql.slice(where, where + 140)}` : sql.slice(0, 200);
    const key = `${request.getStore() ?? '(no request)'} | ${short}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return original.call(this, config, ...rest);
  };
  // New connections too (a pool that closes idle clients opens new ones under load).
  const connect = pg.Client.prototype.connect;
  pg.Client.prototype.connect = function countedConnect(...args) {
    const key = `${request.getStore() ?? '(no request)'} | (new connection)`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return connect.apply(this, args);
  };
  process.on('SIGUSR2', () => fs.writeFileSync(file, JSON.stringify(Object.fromEntries(counts))));
}
