// The small upstream of the gateway benchmark (bench/gateway.ts): a project API answering a
// small JSON body on every path, as fast as node:http allows. GET /api/echo answers what it
// received (method, URL, headers) so that the benchmark can check what each proxy forwards.
// Plain JavaScript, run with `node` (no loader). Env: UPSTREAM_PORT.
import http from 'node:http';

const port = Number(process.env.UPSTREAM_PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('UPSTREAM_PORT is required');

const body = Buffer.from(JSON.stringify({ id: 'lead_0001', name: 'Ada Lovelace', company: 'Analytical Engines', status: 'qualified' }));
const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };

const server = http.createServer((req, res) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') req.resume();
  if (req.url.startsWith('/api/echo')) {
    const echo = Buffer.from(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(echo.length) });
    res.end(echo);
    return;
  }
  res.writeHead(200, headers);
  res.end(body);
});
// The proxies keep their upstream connections for the whole run, idle pauses included.
server.keepAliveTimeout = 300_000;
server.headersTimeout = 301_000;
server.listen(port, '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
