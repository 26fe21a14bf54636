// Preloaded into the benchmarked servers (with --expose-gc) so the idle memory reading is
// deterministic: on SIGUSR2 the process runs a full garbage collection, which is what V8's own
// memory reducer does after ~10 s of idleness on a quiet machine (and not at all on a busy one),
// then writes its memory breakdown (process.memoryUsage, V8 heap spaces) to
// $BENCH_MEM_PROBE_FILE. Does nothing until signalled. Plain JavaScript so that it also loads
// into processes started without tsx.
import fs from 'node:fs';
import v8 from 'node:v8';

const file = process.env.BENCH_MEM_PROBE_FILE;
if (file) {
  process.on('SIGUSR2', () => {
    globalThis.gc?.();
    globalThis.gc?.();
    const mb = (bytes) => Math.round((bytes / 2 ** 20) * 10) / 10;
    const usage = Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, mb(v)]));
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: mb(s.space_size), used: mb(s.space_used_size) }]));
    const code = v8.getHeapCodeStatistics();
    fs.writeFileSync(file, JSON.stringify({ gc: typeof globalThis.gc === 'function', usage, spaces, code: { codeAndMetadata: mb(code.code_and_metadata_size), bytecodeAndMetadata: mb(code.bytecode_and_metadata_size) } }));
  });
}
