import type { Logger } from "../log.ts";

// Marks the handlers, so the last client of a process to finish closing is
// the one that exits. Symbol.for: two copies of underway agree.
const underwaySignalHandler = Symbol.for("underway.stopOnSignals");

/** What `stopOnSignals` takes. */
export interface SignalOptions {
  readonly signals?: ReadonlyArray<NodeJS.Signals>;
  readonly exit?: boolean;
}

/**
 * One client's SIGTERM/SIGINT handlers (`underway.stopOnSignals()`): the
 * first signal closes the client gracefully, then exits; a second exits at
 * once. One set per client: installing again replaces the first.
 */
export class SignalHandlers {
  private removeInstalled: (() => void) | undefined;

  constructor(
    private readonly close: () => Promise<void>,
    private readonly log: Logger,
  ) {}

  /** Installs the handlers; returns a function that removes them. */
  install(options: SignalOptions): () => void {
    this.removeInstalled?.();
    const signals = options.signals ?? ["SIGTERM", "SIGINT"];
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(1);
      stopping = true;
      this.log.warn(`${signal} received: stopping workers gracefully (send again to exit at once)`);
      void this.close().then(
        () => {
          // Another client of this process still closing (its own
          // stopOnSignals) exits when it is done, not cut short by this one.
          const othersClosing = signals.some((name) =>
            process.listeners(name).some((listener) => underwaySignalHandler in listener),
          );
          if (options.exit !== false && !othersClosing) process.exit(0);
        },
        (error: unknown) => {
          this.log.error("graceful shutdown failed", { error: String(error) });
          process.exit(1);
        },
      );
    };
    Object.defineProperty(onSignal, underwaySignalHandler, { value: true });
    for (const signal of signals) process.on(signal, onSignal);
    const remove = () => {
      for (const signal of signals) process.off(signal, onSignal);
      if (this.removeInstalled === remove) this.removeInstalled = undefined;
    };
    this.removeInstalled = remove;
    return remove;
  }

  /** Removes the handlers, if installed: a closed client has nothing left to stop. */
  remove(): void {
    this.removeInstalled?.();
  }
}
