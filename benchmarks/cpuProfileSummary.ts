// Summarises a .cpuprofile (from benchmarks/profile.ts --cpu-profile, or
// `node --cpu-prof`): the share of sampled time spent in each package or
// source file, and in the busiest functions, by self time.
//
//   npx tsx benchmarks/cpuProfileSummary.ts /tmp/drain.cpuprofile
import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>;
  readonly samples: ReadonlyArray<number>;
  readonly timeDeltas: ReadonlyArray<number>;
}

/** node_modules packages by name, node's own modules as `node:…`, this repo's files by path. */
const placeOf = ({ callFrame }: ProfileNode): string => {
  const { url, functionName } = callFrame;
  if (url === "") return `(native) ${functionName}`;
  const inPackage = /node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(url);
  if (inPackage?.[1] !== undefined) return inPackage[1];
  if (url.startsWith("node:")) return url;
  const inRepo = /\/((?:src|benchmarks|test)\/.*)$/.exec(url);
  return inRepo?.[1] ?? url;
};

const path = process.argv[2];
if (path === undefined) throw new Error("usage: cpuProfileSummary.ts <file.cpuprofile>");
const profile = JSON.parse(readFileSync(path, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const byPlace = new Map<string, number>();
const byFunction = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, index) => {
  const node = byId.get(id);
  const dt = profile.timeDeltas[index] ?? 0;
  if (node === undefined) return;
  total += dt;
  const place = placeOf(node);
  byPlace.set(place, (byPlace.get(place) ?? 0) + dt);
  const name = `${node.callFrame.functionName || "(anonymous)"} ${place}:${node.callFrame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + dt);
});

const show = (title: string, counts: Map<string, number>, top: number): void => {
  console.log(title);
  for (const [name, time] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${((100 * time) / total).toFixed(1).padStart(6)}%  ${name}`);
};
console.log(`${(total / 1000).toFixed(0)} ms sampled`);
show("self time by package or file:", byPlace, 20);
show("self time by function:", byFunction, 25);
