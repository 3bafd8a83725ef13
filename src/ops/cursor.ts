import { ValidationError } from "../errors.ts";
import { checkTaskId } from "../identifier.ts";

/** Which way a list runs, by id. */
export type ListOrder = "newest" | "oldest";

const invalidCursor = (message: string): ValidationError =>
  new ValidationError("invalid cursor", { _tag: "DecodeError", paths: ["after"], message });

/**
 * A keyset cursor: the order and the last id of a page, base64url-encoded
 * JSON. Opaque to callers so its form can change; `v` says which form.
 */
export const encodeCursor = (order: ListOrder, lastId: string): string =>
  Buffer.from(JSON.stringify({ v: 1, o: order, id: lastId }), "utf8").toString("base64url");

/**
 * The last id a cursor names. A cursor that was not made by `encodeCursor`,
 * or was made for the other order, is a `ValidationError`: silently starting
 * over would page through the same tasks twice.
 */
export const decodeCursor = (cursor: unknown, order: ListOrder): string => {
  if (
    typeof cursor !== "string" ||
    cursor.length === 0 ||
    cursor.length > 200 ||
    !/^[A-Za-z0-9_-]+$/.test(cursor)
  )
    throw invalidCursor("expected a `next` cursor from a previous page");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalidCursor("expected a `next` cursor from a previous page");
  }
  if (typeof parsed !== "object" || parsed === null || !("v" in parsed) || parsed.v !== 1)
    throw invalidCursor("expected a `next` cursor from a previous page");
  if (!("o" in parsed) || (parsed.o !== "newest" && parsed.o !== "oldest"))
    throw invalidCursor("expected a `next` cursor from a previous page");
  if (parsed.o !== order)
    throw invalidCursor(`the cursor continues a list in "${parsed.o}" order, not "${order}"`);
  const id = "id" in parsed ? parsed.id : undefined;
  try {
    return checkTaskId(id as string);
  } catch {
    throw invalidCursor("expected a `next` cursor from a previous page");
  }
};
