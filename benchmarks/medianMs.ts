/** The median of `runs` timed calls of `fn`, in ms, after one untimed call to warm plans, caches and connections. */
export const medianMs = async (fn: () => Promise<unknown>, runs: number): Promise<number> => {
  await fn();
  const ms: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const started = performance.now();
    await fn();
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)] ?? NaN;
};
