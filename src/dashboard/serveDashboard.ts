import { createServer } from "node:http";
import { checkOptionShape, type OptionShape } from "../optionShape.ts";
import type { AddressInfo } from "node:net";
import { ConfigError } from "../errors.ts";
import { depsOf } from "../client/clientDeps.ts";
import type { Stoppable, Underway } from "../underway.ts";
import { servedDashboard } from "./dashboard.ts";
import { dashboardListener } from "./dashboardListener.ts";
import { dashboardOptionShape, type DashboardOptions } from "./dashboardOptions.ts";

/** Options of {@link serveDashboard}: where to listen, and the dashboard's own. */
export interface ServeDashboardOptions extends DashboardOptions {
  /**
   * The address to bind. Default `127.0.0.1`: reachable from this machine
   * only. Any other address needs an explicit `authorize`.
   */
  readonly host?: string;
  /** The port; default 0 (a free one, see `url`). */
  readonly port?: number;
}

/** A running dashboard server; `close()` (or the client's `close()`) stops it. */
export interface DashboardServer extends Stoppable {
  /** Where it answers, such as `http://127.0.0.1:4000/`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** Stops listening and ends open connections (live-update streams included). */
  close(): Promise<void>;
}

const serveDashboardShape: OptionShape = {
  ...dashboardOptionShape,
  host: "string",
  port: { type: "integer", min: 0, max: 65_535 },
};

const loopbackHosts = new Set(["127.0.0.1", "::1", "localhost"]);

/**
 * Serves the dashboard on its own HTTP server, bound to 127.0.0.1 by
 * default. It answers only a `Host` naming it: `127.0.0.1`, `localhost` or
 * `[::1]` at its port, the address it bound (when not a wildcard), and the
 * names in `allowedHosts`. Binding anything else (`0.0.0.0`, a LAN address) without an
 * `authorize` function is refused with a `ConfigError`, so the dashboard is
 * never open to a network by accident. Stopped by `close()` on the server or
 * on the client.
 *
 * @example
 * const server = await serveDashboard(underway, { port: 4000 });
 * console.log(`dashboard at ${server.url}`);
 */
export const serveDashboard = async (
  underway: Underway,
  options: ServeDashboardOptions = {},
): Promise<DashboardServer> => {
  checkOptionShape("serveDashboard options", options, serveDashboardShape);
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 0;
  if (!loopbackHosts.has(host) && options.authorize === undefined)
    throw new ConfigError(
      `serveDashboard binds ${host}, reachable from other machines: pass an authorize function (or bind 127.0.0.1)`,
    );
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  // The Host check needs the port, known only now (port 0 picks one). No
  // request is read before this line: that takes another turn of the loop.
  const named = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const specific = !["0.0.0.0", "[::]"].includes(named) && !loopbackHosts.has(address.address);
  server.on(
    "request",
    dashboardListener(
      servedDashboard(underway, options, { port: address.port, address: specific ? named : null }),
    ),
  );
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const base = (options.basePath ?? "").replace(/\/+$/, "");
  let closing: Promise<void> | undefined;
  let untrack: () => void = () => undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      untrack();
      server.close(() => resolve());
      // Live-update streams never end by themselves.
      server.closeAllConnections();
    });
    return closing;
  };
  untrack = depsOf(underway).track({ stop: close });
  return { url: `http://${shownHost}:${address.port}${base}/`, port: address.port, close, stop: close };
};
