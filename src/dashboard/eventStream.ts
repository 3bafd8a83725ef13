import { interval, map, merge, throttleTime, type Subscription } from "rxjs";
import type { LiveChangesDeps } from "../client/clientDeps.ts";

const keepaliveMs = 15_000;
const throttleMs = 500;

/**
 * @internal Server-sent events: `change` whenever the client's LISTEN
 * connection hears an enqueue (`<schema>.ready`) or an outcome, at most
 * twice a second; the page then re-fetches itself. Comments keep proxies
 * from closing a quiet stream. Ends when the browser goes or the client closes.
 */
export const eventStream = (deps: LiveChangesDeps, signal: AbortSignal): Response => {
  const encoder = new TextEncoder();
  let subscription: Subscription | undefined;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          // The stream is already closed; the unsubscribe below follows.
        }
      };
      const end = () => {
        subscription?.unsubscribe();
        try {
          controller.close();
        } catch {
          // Already closed.
        }
      };
      send("retry: 3000\n: connected\n\n");
      const changes$ = merge(deps.listener.channel$(`${deps.schema}.ready`), deps.outcomeFeed.payloads$).pipe(
        throttleTime(throttleMs, undefined, { leading: true, trailing: true }),
      );
      subscription = merge(
        changes$.pipe(map(() => "event: change\ndata: {}\n\n")),
        interval(keepaliveMs).pipe(map(() => ": keepalive\n\n")),
      ).subscribe({ next: send, complete: end, error: end });
      if (signal.aborted) end();
      else signal.addEventListener("abort", end, { once: true });
    },
    cancel() {
      subscription?.unsubscribe();
    },
  });
  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    },
  });
};
