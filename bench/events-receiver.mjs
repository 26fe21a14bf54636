// The webhook receiver of the events bench (bench/events.ts): a node:http server on loopback that
// answers every delivery 204 and notes its webhook-id and the time it answered, on the
// monotonic clock (process.hrtime, CLOCK_MONOTONIC: the same clock in every process of this
// machine, so the bench compares it with the times it sent events at). Its own process, so that
// receiving costs neither the hub nor the load generator. Control routes for the bench:
//   GET  /_stats    {count, first, last}  (ms on the monotonic clock)
//   GET  /_dump     [[webhook-id, ms], …] of everything received since the last reset
//   GET  /_sample   the first delivery's headers and body (the bench checks its signature)
//   POST /_reset    forget everything received
// RECEIVER_PORT: the port.
import http from 'node:http';

const port = Number(process.env.RECEIVER_PORT);
const now = () => Number(process.hrtime.bigint()) / 1e6;
let ids = [];
let times = [];
let sample;

const json = (res, value) => {
  const body = JSON.stringify(value);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
};

const server = http.createServer((req, res) => {
  if (req.url === '/hook' && req.method === 'POST') {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      ids.push(String(req.headers['webhook-id']));
      times.push(now());
      sample ??= { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      res.writeHead(204).end();
    });
    return;
  }
  req.resume();
  if (req.url === '/_stats') return json(res, { count: ids.length, first: times[0] ?? null, last: times.at(-1) ?? null });
  if (req.url === '/_dump') return json(res, ids.map((id, i) => [id, times[i]]));
  if (req.url === '/_sample') return json(res, sample ?? null);
  if (req.url === '/_reset' && req.method === 'POST') {
    ids = [];
    times = [];
    return json(res, { ok: true });
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
