// Child processes of the tests (the CLI, fixture workers) start from one ES
// module bundled by esbuild instead of under tsx: the same transform tsx
// applies at every start, done once per test process. A start then costs
// plain node's ~0.1 s of CPU instead of tsx's ~0.45 s, and the suite starts
// some 200 of them on a 2-core machine.
import { buildSync } from "esbuild";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/**
 * The node arguments that run the TypeScript module `entry` (a path from the
 * checkout's root): its bundle, built on first use in this process. The
 * bundles' folder is laid out as the checkout is, for what src/ looks up
 * relative to its module: `db/` beside `src/`, package.json two folders up,
 * node_modules for the packages left out of the bundle. Under tsx instead
 * if esbuild fails.
 */
export const bundled: (entry: string) => ReadonlyArray<string> = (() => {
  const built = new Map<string, ReadonlyArray<string>>();
  let root: string | undefined;
  const layout = (): string => {
    if (root !== undefined) return root;
    const made = mkdtempSync(join(tmpdir(), "underway-bundles-"));
    process.once("exit", () => rmSync(made, { recursive: true, force: true }));
    for (const name of ["package.json", "node_modules"]) symlinkSync(resolve(name), join(made, name));
    mkdirSync(join(made, "checkout", "src"), { recursive: true });
    symlinkSync(resolve("db"), join(made, "checkout", "db"), "dir");
    return (root = made);
  };
  return (entry) => {
    const known = built.get(entry);
    if (known !== undefined) return known;
    let args: ReadonlyArray<string>;
    try {
      const outfile = join(layout(), "checkout", "src", `${entry.replace(/[^\w]/g, "_")}.mjs`);
      buildSync({
        entryPoints: [entry],
        bundle: true,
        platform: "node",
        format: "esm",
        packages: "external",
        target: "node20",
        outfile,
        logLevel: "silent",
      });
      args = [outfile];
    } catch {
      args = ["--import", "tsx", entry];
    }
    built.set(entry, args);
    return args;
  };
})();
