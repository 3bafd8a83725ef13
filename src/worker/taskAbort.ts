import type { AbortError } from "../errors.ts";

/**
 * One task's abort state: aborted once, with an `AbortError`. The
 * `AbortSignal` handed to a handler is made only when the handler reads it:
 * an `AbortController` and its `EventTarget` cost more than a no-op handler
 * itself, and most handlers never look (see docs/performance.md). The
 * worker listens through `onAbort`, which costs nothing until used.
 */
export class TaskAbort {
  private controller: AbortController | undefined;
  private abortReason: AbortError | undefined;
  private listeners: Array<() => void> | undefined;

  /** The signal for the handler; made on first read, already aborted if the task is. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.abortReason !== undefined;
  }

  /** Why it was aborted; undefined while it was not. */
  get reason(): AbortError | undefined {
    return this.abortReason;
  }

  /** Aborts with `reason`, once: a later call changes nothing. */
  abort(reason: AbortError): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
  }

  /** Calls `listener` once on abort (at once if aborted already); returns its removal. */
  onAbort(listener: () => void): () => void {
    if (this.abortReason !== undefined) {
      listener();
      return () => undefined;
    }
    (this.listeners ??= []).push(listener);
    return () => {
      const at = this.listeners?.indexOf(listener) ?? -1;
      if (at >= 0) this.listeners?.splice(at, 1);
    };
  }
}
