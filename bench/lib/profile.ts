import { readFileSync } from 'node:fs';
import { round } from './proc.js';

/** Summary of a V8 .cpuprofile (node --cpu-prof): self time by package or source file, and the hottest functions. */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  file: string;
  wall_s: number;
  busy_s: number;
  by_package: { name: string; self_ms: number; share: number }[];
  /** Self time with Node internals and native code charged to the nearest package or app file up the stack. */
  by_owner: { name: string; self_ms: number; share: number }[];
  top_functions: { name: string; self_ms: number; share: number }[];
  /** Inclusive time of application entry points (share of busy time spent below them). */
  inclusive: { name: string; ms: number; share: number }[];
}

function category(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (!url) {
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(garbage collector)') return 'GC';
    return functionName.startsWith('(') ? `V8 ${functionName}` : 'native';
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const app = /\/(src|jobs|config|bench)\/(.+)$/.exec(url);
  if (app) return `${app[1]}/${app[2]!.replace(/\.ts$/, '')}`;
  return url;
}

function label(node: ProfileNode): string {
  const { url, functionName, lineNumber } = node.callFrame;
  const short = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|jobs|config|bench)\//, '$1/');
  return `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`.trim();
}

/** Functions whose inclusive time says where application time goes. */
const ENTRY_POINTS: [string, RegExp][] = [
  ['applyStoredEvent (apply job)', /^applyStoredEvent$/],
  ['pushContact (ESP push job)', /^pushContact$/],
  ['resolveContactId', /^resolveContactId$/],
  ['zod parse', /^(safeParse|parse)$/],
  ['BullMQ Worker.processJob', /^processJob$/],
  ['BullMQ moveToFinished', /^moveToFinished$/],
  ['mongoose Query.exec', /^exec$/],
  ['bson serialize', /^serializeInto$/],
  ['bson deserialize', /^deserializeObject$/],
  ['pino write', /^write$/],
];

export function summariseProfile(file: string, topN = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  let idle = 0;
  let all = 0;
  const packages = new Map<string, number>();
  const owners = new Map<string, number>();
  const isOwner = (cat: string) => !cat.startsWith('node:') && cat !== 'native' && !cat.startsWith('V8') && cat !== 'GC';
  const ownerOf = (id: number): string => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cat = category(byId.get(cur)!);
      if (isOwner(cat)) return cat.startsWith('src/') || cat.startsWith('jobs/') ? cat.split('/').slice(0, 2).join('/') : cat;
    }
    return category(byId.get(id)!);
  };
  const functions = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    all += us;
    const cat = category(node);
    if (cat === '(idle)') {
      idle += us;
      continue;
    }
    packages.set(cat, (packages.get(cat) ?? 0) + us);
    const owner = ownerOf(id);
    owners.set(owner, (owners.get(owner) ?? 0) + us);
    const name = label(node);
    functions.set(name, (functions.get(name) ?? 0) + us);
    // Attribute this self time once to each entry point on the stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const fn = byId.get(cur)!.callFrame.functionName;
      for (const [entry, re] of ENTRY_POINTS) {
        if (!seen.has(entry) && re.test(fn)) {
          seen.add(entry);
          inclusive.set(entry, (inclusive.get(entry) ?? 0) + us);
        }
      }
    }
  }
  const busy = all - idle;
  const rank = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, self_ms: round(us / 1000), share: round(us / busy, 3) }));
  return {
    file,
    wall_s: round((profile.endTime - profile.startTime) / 1e6, 1),
    busy_s: round(busy / 1e6, 1),
    by_package: rank(packages, 18),
    by_owner: rank(owners, 18),
    top_functions: rank(functions, topN),
    inclusive: [...inclusive.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, ms: round(us / 1000), share: round(us / busy, 3) })),
  };
}
