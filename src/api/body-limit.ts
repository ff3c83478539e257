import { Elysia } from "elysia";
import { InvalidJsonError } from "../errors";
import { readBodyText, tooLarge } from "./read-json-body";

/** Routes that read their body themselves with readBodyBytes (bounded there, with their own rules). */
const READS_OWN_BODY = /^\/(events|v1\/|admin\/)/;
const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;

/**
 * Bun is told no body limit of its own (its 413 is bare and closes the connection). Here a
 * declared length over `maxBytes` gets Lifeline's JSON 413 before any byte is read, and the
 * routes Elysia parses read their body within `maxBytes` too (a chunked body has no length).
 */
export function bodyLimit(maxBytes: number) {
  return new Elysia({ name: "body-limit" })
    .onRequest(({ request }) => {
      if (Number(request.headers.get("content-length") ?? "0") > maxBytes) throw tooLarge(maxBytes);
    })
    .onParse({ as: "global" }, async ({ request, path }) => {
      // Any value but undefined tells Elysia the body is handled: these routes read the request themselves.
      if (READS_OWN_BODY.test(path)) return null;
      const text = await readBodyText(request, maxBytes);
      if (!JSON_TYPE.test(request.headers.get("content-type") ?? "")) return text;
      try {
        return text.trim() ? JSON.parse(text) : null;
      } catch {
        throw new InvalidJsonError("request body is not valid JSON");
      }
    });
}
