import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { DashboardHandler } from "./dashboard.ts";
// Forms are small; a larger body is refused rather than buffered.
import { maxBodyBytes } from "./readForm.ts";

/** A node:http `(req, res)` listener; Express passes `next` as a third argument (unused). */
export type DashboardListener = (request: IncomingMessage, response: ServerResponse, next?: unknown) => void;

const readBody = async (request: IncomingMessage): Promise<Buffer | undefined> => {
  // A framework's body parser may have read the stream already (Express'
  // urlencoded, for example): re-encode what it parsed.
  const parsed: unknown = (request as { body?: unknown }).body;
  if (typeof parsed === "string") return Buffer.from(parsed);
  if (Buffer.isBuffer(parsed)) return parsed;
  if (typeof parsed === "object" && parsed !== null) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(parsed))
      for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item));
    return Buffer.from(params.toString());
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBodyBytes) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
};

const toRequest = async (
  req: IncomingMessage,
  signal: AbortSignal,
): Promise<Request | "too large" | "bad request"> => {
  const scheme = (req.socket as TLSSocket).encrypted === true ? "https" : "http";
  // Express strips the mount path from req.url and keeps it in originalUrl.
  const path = (req as { originalUrl?: string }).originalUrl ?? req.url ?? "/";
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value === undefined || key.startsWith(":")) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(key, item);
  }
  const method = req.method ?? "GET";
  let body: Buffer | undefined;
  if (method !== "GET" && method !== "HEAD") {
    body = await readBody(req);
    if (body === undefined) return "too large";
    headers.delete("content-length");
    headers.delete("transfer-encoding");
  }
  // HTTP/2 names the host in :authority (skipped above): keep it as Host,
  // which the dashboard checks.
  // Node keeps the first of two Host headers; a proxy in front may read the
  // other. Two are refused, as RFC 9112 asks.
  if (req.rawHeaders.filter((name, index) => index % 2 === 0 && name.toLowerCase() === "host").length > 1)
    return "bad request";
  const authority = req.headers.host ?? (req.headers as Record<string, unknown>)[":authority"];
  if (typeof authority === "string" && !headers.has("host")) headers.set("host", authority);
  const url = requestUrl(scheme, typeof authority === "string" ? authority : "localhost", path);
  if (url === undefined) return "bad request";
  return new Request(url, {
    method,
    headers,
    signal,
    ...(body === undefined ? {} : { body }),
  });
};

/**
 * The request's URL, or undefined when the Host or the target cannot make
 * one (an empty Host, one with user info or a list, an unparsable target):
 * a 400 for the client, where building it anyway threw and answered 500. An
 * absolute-form target (`GET http://host/path`) keeps its path and query;
 * the Host header stays what the dashboard checks.
 */
const requestUrl = (scheme: string, authority: string, target: string): URL | undefined => {
  if (authority === "" || /[@,\s/\\]/.test(authority)) return undefined;
  try {
    const url = new URL(`${scheme}://${authority}`);
    let path = target;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
      // The target's authority would override Host (RFC 9112): the two must agree.
      const absolute = new URL(target);
      if (absolute.host.toLowerCase() !== url.host.toLowerCase()) return undefined;
      path = `${absolute.pathname}${absolute.search}`;
    }
    if (!path.startsWith("/")) return undefined;
    // Set as path and query, never resolved: `//evil.example/` is a path here,
    // not a URL of another host.
    const query = path.indexOf("?");
    url.pathname = query < 0 ? path : path.slice(0, query);
    url.search = query < 0 ? "" : path.slice(query);
    return url;
  } catch {
    return undefined;
  }
};

const send = async (response: Response, res: ServerResponse, signal: AbortSignal): Promise<void> => {
  res.statusCode = response.status;
  response.headers.forEach((value, key) => {
    if (key !== "set-cookie") res.setHeader(key, value);
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
  if (response.body === null) {
    res.end();
    return;
  }
  res.flushHeaders();
  const reader = response.body.getReader();
  signal.addEventListener("abort", () => void reader.cancel().catch(() => undefined), { once: true });
  for (;;) {
    const { done, value } = await reader.read();
    if (done || res.destroyed) break;
    // Back-pressure: wait for the socket to drain (or close).
    if (!res.write(value)) await new Promise((resume) => res.once("drain", resume).once("close", resume));
  }
  res.end();
};

/**
 * The Fetch handler as a node:http listener, for `http.createServer`,
 * Express (`app.use("/admin/queues", listener)`: the mount path becomes the
 * base path) and Fastify (see docs/dashboard.md). The client's TCP address
 * goes to `authorize` as `info.remoteAddress`.
 *
 * @example
 * const listener = dashboardListener(dashboard(underway, { authorize }));
 * http.createServer(listener).listen(3000, "127.0.0.1");
 */
export const dashboardListener =
  (handler: DashboardHandler, options: { readonly basePath?: string } = {}): DashboardListener =>
  (req, res) => {
    const closed = new AbortController();
    res.once("close", () => closed.abort());
    void (async () => {
      const request = await toRequest(req, closed.signal);
      if (request === "too large") {
        res.writeHead(413, { "content-type": "text/plain" }).end("Request body too large");
        return;
      }
      if (request === "bad request") {
        res
          .writeHead(400, { "content-type": "text/plain" })
          .end("Bad request: the Host header or the request target is malformed");
        return;
      }
      const mount = options.basePath ?? (req as { baseUrl?: string }).baseUrl;
      const response = await handler(request, {
        remoteAddress: req.socket.remoteAddress,
        ...(mount === undefined || mount === "" ? {} : { basePath: mount }),
      });
      await send(response, res, closed.signal);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" }).end("Internal error");
      else res.destroy();
    });
  };
