/** @internal The largest request body the dashboard reads: forms are small. */
export const maxBodyBytes = 1_000_000;

/**
 * Reads at most `maxBodyBytes` of a body, or undefined when it is larger:
 * a Fetch host (Deno, Bun, hono) hands the handler the body unread, and
 * `request.text()` would buffer any size.
 */
const readCapped = async (request: Request): Promise<Uint8Array | undefined> => {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBodyBytes) return undefined;
  if (request.body === null) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBodyBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
};

/**
 * @internal A POST's form fields (urlencoded or multipart), or undefined
 * when the body is over `maxBodyBytes`.
 */
export const readForm = async (request: Request): Promise<URLSearchParams | undefined> => {
  const body = await readCapped(request);
  if (body === undefined) return undefined;
  const type = request.headers.get("content-type") ?? "";
  if (type.startsWith("multipart/form-data")) {
    const data = await new Response(body, { headers: { "content-type": type } }).formData();
    const params = new URLSearchParams();
    data.forEach((value, key) => {
      if (typeof value === "string") params.append(key, value);
    });
    return params;
  }
  return new URLSearchParams(new TextDecoder().decode(body));
};
