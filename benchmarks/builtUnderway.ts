import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The package's public API, typed from the source. */
export type UnderwayApi = typeof import("../src/index.ts");

/**
 * underway as users run it: the compiled package in dist/, not the source
 * through tsx (whose per-function `__name` calls cost a measurable share of
 * a no-op drain, and which the peers, loaded from node_modules, do not pay).
 * `npm run bench` builds first.
 */
export const builtUnderway = async (): Promise<UnderwayApi> => {
  const entry = fileURLToPath(new URL("../dist/src/index.js", import.meta.url));
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` before benchmarking`);
  return (await import(pathToFileURL(entry).href)) as UnderwayApi;
};
