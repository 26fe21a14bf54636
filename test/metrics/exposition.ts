// A small strict parser of the Prometheus text format (0.0.4): every sample belongs to a family
// declared by # HELP and # TYPE before it, label values are quoted with the format's escapes,
// values are numbers. Anything else throws, so a malformed exposition fails the test.
export interface Sample { name: string; labels: Record<string, string>; value: number }
export interface Exposition { types: Map<string, string>; samples: Sample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SUFFIXES: Record<string, string[]> = { counter: [''], gauge: [''], untyped: [''], histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const pattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
  let at = 0;
  while (at < text.length) {
    pattern.lastIndex = at;
    const match = pattern.exec(text);
    if (!match) throw new Error(`bad labels in: ${line}`);
    if (match[1] in labels) throw new Error(`repeated label in: ${line}`);
    labels[match[1]] = match[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    at = pattern.lastIndex;
  }
  return labels;
}

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      if (!NAME.test(comment[2])) throw new Error(`bad metric name: ${line}`);
      if (comment[1] === 'HELP') helped.add(comment[2]);
      else if (!(comment[3] in SUFFIXES) || types.has(comment[2])) throw new Error(`bad or repeated TYPE: ${line}`);
      else types.set(comment[2], comment[3]);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`not a sample: ${line}`);
    const [, name, labelText, raw] = sample;
    const family = [...types.keys()].find((f) => SUFFIXES[types.get(f)!].some((suffix) => `${f}${suffix}` === name));
    if (!family || !helped.has(family)) throw new Error(`sample of an undeclared family: ${line}`);
    // Go's ParseFloat, which Prometheus uses, takes NaN and Inf in any case (prom-client writes `Nan`).
    const special = ({ nan: NaN, '+inf': Infinity, '-inf': -Infinity } as Record<string, number>)[raw.toLowerCase()];
    const value = special ?? Number(raw);
    if (special === undefined && (raw === '' || Number.isNaN(value))) throw new Error(`bad value: ${line}`);
    samples.push({ name, labels: labelText ? parseLabels(labelText, line) : {}, value });
  }
  return { types, samples };
}

/** The value of the one sample with this name and these labels (0 when there is none: a counter not yet incremented). */
export function valueOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = exposition.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
    && Object.keys(s.labels).length === Object.keys(labels).length);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}
