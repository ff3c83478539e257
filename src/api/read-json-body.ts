import { gunzipSync } from "node:zlib";
import { InvalidJsonError, PayloadTooLargeError, UnsupportedMediaTypeError } from "../errors";

const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;
// RudderStack's Node SDK posts gzipped JSON labelled as a form; a gzip body is never a form.
const GZIP_LABELS = /^(application\/x-www-form-urlencoded|application\/octet-stream|text\/plain)\s*(;|$)/i;

/**
 * Reads a JSON request body with the limits of the ingest API: JSON content types only,
 * gzip accepted, at most maxBytes after decompression.
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const type = request.headers.get("content-type") ?? "";
  const encoding = (request.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  const isGzip = encoding === "gzip" || encoding === "x-gzip";
  if (!JSON_TYPE.test(type) && !(isGzip && GZIP_LABELS.test(type)))
    throw new UnsupportedMediaTypeError(`Content-Type must be application/json (got ${type ? `"${type}"` : "none"})`);

  let bytes = await readBodyBytes(request, maxBytes);
  if (isGzip) bytes = gunzipWithin(bytes, maxBytes);
  else if (encoding !== "identity" && encoding !== "")
    throw new UnsupportedMediaTypeError(`Content-Encoding "${encoding}" is not supported; send gzip or no encoding`);
  if (bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
  if (bytes.byteLength === 0) throw new InvalidJsonError("request body is empty; send a JSON object or array");

  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    if (err instanceof RangeError) throw new InvalidJsonError("request body is nested too deeply to parse");
    if (err instanceof TypeError) throw new InvalidJsonError("request body is not valid UTF-8");
    throw new InvalidJsonError(`request body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * The request body, refused with a 413 naming the limit as soon as it passes maxBytes: by its
 * declared length before anything is read, or while a chunked body streams in (never buffered whole).
 */
export async function readBodyBytes(request: Request, maxBytes: number): Promise<Uint8Array> {
  if (Number(request.headers.get("content-length") ?? "0") > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** The body as UTF-8 text, within maxBytes (see readBodyBytes). */
export async function readBodyText(request: Request, maxBytes: number): Promise<string> {
  return new TextDecoder().decode(await readBodyBytes(request, maxBytes));
}

function gunzipWithin(bytes: Uint8Array, maxBytes: number): Uint8Array {
  try {
    return gunzipSync(bytes, { maxOutputLength: maxBytes + 1 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) throw tooLarge(maxBytes);
    throw new InvalidJsonError("request body is declared gzip but could not be decompressed");
  }
}

export const tooLarge = (maxBytes: number) =>
  new PayloadTooLargeError(`request body is larger than the ${maxBytes}-byte limit`, { details: { limitBytes: maxBytes } });
