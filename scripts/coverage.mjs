#!/usr/bin/env node
// `npm run coverage`: line, branch, function and statement coverage of src/ and packages/*/src,
// counting both the code the tests run in-process and the code that runs in the server and CLI
// processes they start.
//
// 1. `vitest run --coverage` (the v8 provider, settings in vitest.config.ts) measures the test
//    workers and writes coverage/in-process/coverage-final.json. That map is the canonical list of
//    statements, branches and functions of every file (untested files included): the totals
//    below count each of them once, whichever processes ran it.
// 2. The same run has NODE_V8_COVERAGE set, which the test helpers pass on to the `nexus` and
//    server processes they spawn (test/support/process.ts, test/cli/support.ts). Each of those
//    writes V8's raw coverage of the tsx-transpiled code, with tsx's source maps, when it exits
//    (process.exit and SIGTERM/SIGINT included; a process killed with SIGKILL writes nothing).
// 3. Each raw script is mapped back to the original source through its source map, and every
//    statement, branch arm and function of the canonical map that V8 executed in a child gets
//    that hit added. The denominators never change: a child can only mark code as run.
//
// Usage: npm run coverage [-- <vitest filters/options>]. Exit status: vitest's.
// `node scripts/coverage.mjs --report-only` merges and reports the data of the last run again.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'coverage');
const CHILDREN = path.join(OUT, 'children');
const IN_PROCESS = path.join(OUT, 'in-process', 'coverage-final.json');

const libCoverage = require('istanbul-lib-coverage');
const libReport = require('istanbul-lib-report');
const reports = require('istanbul-reports');
const { mergeScriptCovs } = require('@bcoe/v8-coverage');
const ts = require('typescript');
const { TraceMap, allGeneratedPositionsFor, LEAST_UPPER_BOUND, GREATEST_LOWER_BOUND } = await import('@jridgewell/trace-mapping');

function runTests(args) {
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(CHILDREN, { recursive: true });
  const vitest = path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
  const result = spawnSync(process.execPath, [vitest, 'run', '--coverage', ...args], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, NODE_V8_COVERAGE: CHILDREN },
  });
  return result.status ?? 1;
}

/** Raw V8 coverage of the child processes, per source file, merged over processes. */
function childScripts(wanted) {
  const groups = new Map(); // key: url + generated code shape -> { url, sourceMap, lineLengths, covs }
  let processes = 0;
  for (const name of fs.readdirSync(CHILDREN)) {
    let raw;
    try {
      raw = JSON.parse(fs.readFileSync(path.join(CHILDREN, name), 'utf8'));
    } catch {
      continue; // a file being written by a process that was killed
    }
    const cache = raw['source-map-cache'] ?? {};
    let counted = false;
    for (const script of raw.result ?? []) {
      if (!script.url.startsWith('file://')) continue;
      const entry = cache[script.url];
      // Only scripts with a source map of one original file: tsx's inline maps of src/*.ts, and
      // tsc's maps of a package's dist/*.js. The test workers also write raw coverage here, of
      // vitest's own transforms without a cached map: vitest's provider has counted those.
      if (!entry?.data || !entry.lineLengths || entry.data.sources?.length !== 1) continue;
      const file = fileURLToPath(new URL(entry.data.sources[0], entry.url ?? script.url));
      if (!wanted.has(file)) continue;
      const key = `${script.url}\0${entry.lineLengths.join(',')}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { file, sourceMap: entry.data, lineLengths: entry.lineLengths, covs: [] }));
      group.covs.push(script);
      counted = true;
    }
    if (counted) processes += 1;
  }
  return { groups: [...groups.values()], processes };
}

/** Count of the most specific V8 range at each offset of the generated code. */
function countsByOffset(functions, length) {
  const ranges = functions.flatMap((fn) => fn.ranges).sort((a, b) => (b.endOffset - b.startOffset) - (a.endOffset - a.startOffset));
  const counts = new Int32Array(length);
  for (const range of ranges) counts.fill(range.count, range.startOffset, Math.min(range.endOffset, length));
  return counts;
}

/** Where each `if` of the original source has its consequent (istanbul stores only the if's own location). */
function ifStatements(file, source) {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const found = new Map();
  const position = (pos) => {
    const { line, character } = sf.getLineAndCharacterOfPosition(pos);
    return { line: line + 1, column: character };
  };
  const visit = (node) => {
    if (ts.isIfStatement(node)) {
      const start = position(node.getStart(sf));
      const then = node.thenStatement;
      found.set(`${start.line}:${start.column}`, { ...position(then.getStart(sf) + (ts.isBlock(then) ? 1 : 0)) });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

class Projection {
  constructor(group, source) {
    this.map = new TraceMap(group.sourceMap);
    this.source = this.map.sources[0];
    this.lineStarts = [];
    let offset = 0;
    for (const length of group.lineLengths) {
      this.lineStarts.push(offset);
      offset += length + 1;
    }
    const merged = mergeScriptCovs(group.covs);
    this.counts = countsByOffset(merged.functions, offset);
    this.ifs = ifStatements(group.file, source);
  }

  /**
   * Hits V8 recorded at an original position, or null when the position has no code in the
   * generated output. Several generated positions (esbuild's keepNames helpers) give the
   * smallest count: never more than the code itself ran.
   */
  countAt(loc) {
    if (!loc || loc.line === undefined || loc.line === null) return null;
    for (const bias of [LEAST_UPPER_BOUND, GREATEST_LOWER_BOUND]) {
      const positions = allGeneratedPositionsFor(this.map, { source: this.source, line: loc.line, column: loc.column, bias });
      const valid = positions.filter((p) => p.line !== null && p.line <= this.lineStarts.length);
      if (valid.length) return Math.min(...valid.map((p) => this.counts[this.lineStarts[p.line - 1] + p.column] ?? 0));
    }
    return null;
  }

  /** Adds the children's hits to one file's canonical coverage data. */
  addTo(data) {
    for (const [key, loc] of Object.entries(data.statementMap)) {
      data.s[key] += this.countAt(loc.start) ?? 0;
    }
    for (const [key, fn] of Object.entries(data.fnMap)) {
      // loc is the function's body: inside V8's range of the function itself.
      data.f[key] += this.countAt(fn.loc.start) ?? 0;
    }
    for (const [key, branch] of Object.entries(data.branchMap)) {
      const hits = data.b[key];
      if (branch.type === 'if') {
        const ifCount = this.countAt(branch.loc.start);
        const then = this.ifs.get(`${branch.loc.start.line}:${branch.loc.start.column}`);
        if (ifCount === null || !then) continue;
        const thenCount = this.countAt(then) ?? 0;
        hits[0] += thenCount;
        const otherwise = branch.locations[1];
        if (!otherwise) continue;
        hits[1] += otherwise.start.line === undefined ? Math.max(0, ifCount - thenCount) : (this.countAt(otherwise.start) ?? 0);
        continue;
      }
      branch.locations.forEach((location, i) => {
        hits[i] += this.countAt(location.start) ?? 0;
      });
    }
  }
}

function mergeChildren(map) {
  const wanted = new Set(map.files());
  const { groups, processes } = childScripts(wanted);
  let skipped = 0;
  for (const group of groups) {
    const source = fs.readFileSync(group.file, 'utf8');
    // The file must not have changed since the child compiled it, or positions would not match
    // (tsx's maps carry the source; tsc's maps of a built package do not).
    const compiled = group.sourceMap.sourcesContent?.[0];
    if (compiled !== undefined && compiled !== null && compiled !== source) {
      skipped += 1;
      continue;
    }
    new Projection(group, source).addTo(map.fileCoverageFor(group.file).data);
  }
  return { processes, files: new Set(groups.map((g) => g.file)).size, skipped };
}

function pct(covered, total) {
  return total === 0 ? 100 : (100 * covered) / total;
}

/** Lines and branches per directory (src/cli/commands, src/oidc, ...), then the total. */
function printSummary(map, merged) {
  const dirs = new Map();
  const add = (key, summary) => {
    const entry = dirs.get(key) ?? { lines: [0, 0], branches: [0, 0], functions: [0, 0], statements: [0, 0] };
    for (const metric of Object.keys(entry)) {
      entry[metric][0] += summary[metric].covered;
      entry[metric][1] += summary[metric].total;
    }
    dirs.set(key, entry);
  };
  const total = libCoverage.createCoverageSummary();
  for (const file of map.files()) {
    const summary = map.fileCoverageFor(file).toSummary();
    total.merge(summary);
    add(path.relative(ROOT, path.dirname(file)), summary);
  }
  const rows = [...dirs.entries()].sort(([a], [b]) => a.localeCompare(b));
  const width = Math.max(10, ...rows.map(([dir]) => dir.length));
  const cell = ([covered, count]) => `${pct(covered, count).toFixed(1).padStart(6)}% ${`(${covered}/${count})`.padEnd(12)}`;
  console.log('');
  console.log(`${'Directory'.padEnd(width)}  ${'Lines'.padEnd(20)} ${'Branches'.padEnd(20)} Functions`);
  for (const [dir, m] of rows) console.log(`${dir.padEnd(width)}  ${cell(m.lines)} ${cell(m.branches)} ${cell(m.functions)}`);
  const t = total.toJSON();
  console.log('');
  console.log(`Child processes counted: ${merged.processes} (${merged.files} source files ran in them)${merged.skipped ? `; ${merged.skipped} script(s) skipped: source changed during the run` : ''}`);
  console.log(`HTML report: coverage/index.html; merged data: coverage/coverage-final.json`);
  console.log('');
  console.log(`Coverage of src/ and packages/ (tests + the server and CLI processes they start):`);
  console.log(`  Lines:      ${t.lines.pct.toFixed(2)}% (${t.lines.covered}/${t.lines.total})`);
  console.log(`  Branches:   ${t.branches.pct.toFixed(2)}% (${t.branches.covered}/${t.branches.total})`);
  console.log(`  Functions:  ${t.functions.pct.toFixed(2)}% (${t.functions.covered}/${t.functions.total})`);
  console.log(`  Statements: ${t.statements.pct.toFixed(2)}% (${t.statements.covered}/${t.statements.total})`);
}

const onlyReport = process.argv[2] === '--report-only';
const status = onlyReport ? 0 : runTests(process.argv.slice(2));
if (!fs.existsSync(IN_PROCESS)) {
  console.error(`coverage: ${path.relative(ROOT, IN_PROCESS)} was not written (vitest exited with ${status})`);
  process.exit(status || 1);
}
const map = libCoverage.createCoverageMap(JSON.parse(fs.readFileSync(IN_PROCESS, 'utf8')));
// A package's build is counted through its source maps, never as files of its own.
map.filter((file) => !/[/\\]packages[/\\][^/\\]+[/\\]dist[/\\]/.test(file));
const merged = mergeChildren(map);
fs.writeFileSync(path.join(OUT, 'coverage-final.json'), JSON.stringify(map.toJSON()));
const context = libReport.createContext({ dir: OUT, coverageMap: map, defaultSummarizer: 'nested' });
reports.create('html').execute(context);
reports.create('text', { skipFull: true }).execute(context);
printSummary(map, merged);
if (status !== 0) console.error(`\ncoverage: the tests failed (vitest exited with ${status}); the figures above are incomplete`);
process.exit(status);
