// Summarises a V8 .cpuprofile (from `node --cpu-prof`): where the samples landed, by area of
// code and by function, self time and inclusive time. Used by `npm run bench -- --profile`,
// or on its own:  npx tsx bench/profile.ts <file.cpuprofile> [regex of functions to list]
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/** Which part of the stack a frame belongs to. */
export function area(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)' || functionName === '(program)') return functionName;
    return 'native/V8';
  }
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1];
  if (pkg) return pkg;
  // The hub runs compiled (dist/, `node dist/server.js`); src/ when run from source under tsx.
  const hubDir = ['/dist/', '/src/'].find((dir) => url.includes(dir));
  if (hubDir) return `hub ${url.slice(url.indexOf(hubDir) + 1)}`;
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\//, '');
}

/** `match`: a pattern; only functions whose label (name file:line) matches are listed. */
export function summarizeProfile(file: string, top = 25, match?: RegExp): string {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
  const busy = total - idle;

  const label = (n: ProfileNode) => {
    const { functionName, url, lineNumber } = n.callFrame;
    const where = url ? `${url.replace(/^file:\/\/.*?\/(node_modules|dist|src)\//, '$1/')}:${lineNumber + 1}` : '';
    return `${functionName || '(anonymous)'} ${where}`.trim();
  };

  const selfByArea = new Map<string, number>();
  const selfByFn = new Map<string, number>();
  const inclusiveByFn = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') continue;
    const a = area(node.callFrame.url, node.callFrame.functionName);
    selfByArea.set(a, (selfByArea.get(a) ?? 0) + us);
    selfByFn.set(label(node), (selfByFn.get(label(node)) ?? 0) + us);
    // Inclusive: every distinct function on this sample's stack gets the time once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusiveByFn.set(l, (inclusiveByFn.get(l) ?? 0) + us);
    }
  }

  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const rows = (map: Map<string, number>, n: number, filter: (k: string) => boolean = () => true) =>
    [...map].filter(([k]) => filter(k)).sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `  ${pct(us)}  ${k}`);

  if (match) {
    return [
      `CPU profile ${file}: functions matching ${match}, busy ${(busy / 1000).toFixed(0)} ms`,
      'inclusive:', ...rows(inclusiveByFn, top, (k) => match.test(k)),
      'self:', ...rows(selfByFn, top, (k) => match.test(k)),
    ].join('\n');
  }
  const interesting = (k: string) => !/^\((root|program|idle)\)/.test(k) && !/^(processTicksAndRejections|runMicrotasks|emit|listOnTimeout|processImmediate)\b/.test(k);
  return [
    `CPU profile ${file}`,
    `  busy ${(busy / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms sampled (percentages are of busy time)`,
    'self time by area:',
    ...rows(selfByArea, 18),
    `self time, top ${top} functions:`,
    ...rows(selfByFn, top),
    'inclusive time, hub code (dist/ or src/):',
    ...rows(inclusiveByFn, 15, (k) => k.includes(' dist/') || k.includes(' src/')),
    'inclusive time, top functions overall:',
    ...rows(inclusiveByFn, top, interesting),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: tsx bench/profile.ts <file.cpuprofile> [regex]');
  process.stdout.write(`${summarizeProfile(file, 40, process.argv[3] ? new RegExp(process.argv[3]) : undefined)}\n`);
}
