import type { Schemas } from "@qdrant/js-client-rest";
import { z } from "zod";
import { UpstreamTimeoutError } from "../errors/upstream-timeout-error";
import { qdrantAnswerError, qdrantHttpError, qdrantNetworkError } from "./qdrant-errors";

type Write = { wait?: boolean; ordering?: Schemas["WriteOrdering"]; timeout?: number };
type Read = { consistency?: Schemas["ReadConsistency"]; timeout?: number };
type UpdateResult = Schemas["UpdateResult"];

export type QdrantRestOptions = { url: string; apiKey?: string; timeoutMs: number };

const envelopeSchema = z.object({ result: z.unknown() });

/**
 * The part of `QdrantClient` (@qdrant/js-client-rest 1.18) the store uses, with the same method
 * names, parameters, defaults and wire requests (method, path, query, JSON body), over fetch.
 * Not the client itself: it turns every non-2xx answer into its fetch library's `ApiError`, and
 * keeps one character of `Retry-After` ("12" becomes 1 s). Here every failure is translated at
 * this edge, by status, with Qdrant's own message (qdrant-errors.ts).
 */
export class QdrantRest {
  /** The URL without credentials, for messages. */
  readonly displayUrl: string;
  private readonly baseUrl: string;

  constructor(private readonly options: QdrantRestOptions) {
    const url = new URL(options.url);
    url.username = "";
    url.password = "";
    this.baseUrl = url.toString().replace(/\/+$/, "");
    this.displayUrl = this.baseUrl;
  }

  /** GET /: `{title, version, commit}`. */
  async versionInfo(): Promise<Schemas["VersionInfo"]> {
    return (await this.send("version", "GET", "/")) as Schemas["VersionInfo"];
  }

  collectionExists(collection: string): Promise<Schemas["CollectionExistence"]> {
    return this.result("collection exists", "GET", `${path(collection)}/exists`);
  }

  getCollection(collection: string): Promise<Schemas["CollectionInfo"]> {
    return this.result("get collection", "GET", path(collection));
  }

  createCollection(collection: string, { timeout, ...body }: Schemas["CreateCollection"] & { timeout?: number }): Promise<boolean> {
    return this.result("create collection", "PUT", path(collection), { timeout }, body);
  }

  createPayloadIndex(collection: string, { wait, ordering, timeout, ...body }: Schemas["CreateFieldIndex"] & Write): Promise<UpdateResult> {
    return this.write("create payload index", "PUT", `${path(collection)}/index`, { wait, ordering, timeout }, body);
  }

  upsert(collection: string, { wait = true, ordering, timeout, ...body }: Schemas["PointInsertOperations"] & Write): Promise<UpdateResult> {
    return this.write("upsert", "PUT", `${path(collection)}/points`, { wait, ordering, timeout }, body);
  }

  retrieve(collection: string, { consistency, timeout, with_payload = true, ...body }: Schemas["PointRequest"] & Read): Promise<Schemas["Record"][]> {
    return this.result("retrieve", "POST", `${path(collection)}/points`, { consistency, timeout }, { ...body, with_payload });
  }

  delete(collection: string, { wait, ordering, timeout, ...body }: Schemas["PointsSelector"] & Write): Promise<UpdateResult> {
    return this.write("delete", "POST", `${path(collection)}/points/delete`, { wait, ordering, timeout }, body);
  }

  setPayload(collection: string, { wait = true, ordering, timeout, ...body }: Schemas["SetPayload"] & Write): Promise<UpdateResult> {
    return this.write("set payload", "POST", `${path(collection)}/points/payload`, { wait, ordering, timeout }, body);
  }

  count(collection: string, { timeout, exact = true, ...body }: Schemas["CountRequest"] & { timeout?: number } = {}): Promise<Schemas["CountResult"]> {
    return this.result("count", "POST", `${path(collection)}/points/count`, { timeout }, { ...body, exact });
  }

  scroll(
    collection: string,
    { consistency, timeout, limit = 10, with_payload = true, with_vector = false, ...body }: Schemas["ScrollRequest"] & Read = {},
  ): Promise<Schemas["ScrollResult"]> {
    return this.result("scroll", "POST", `${path(collection)}/points/scroll`, { consistency, timeout }, { ...body, limit, with_payload, with_vector });
  }

  query(collection: string, { consistency, timeout, ...body }: Schemas["QueryRequest"] & Read): Promise<Schemas["QueryResponse"]> {
    return this.result("query", "POST", `${path(collection)}/points/query`, { consistency, timeout }, body);
  }

  queryGroups(collection: string, { consistency, timeout, ...body }: Schemas["QueryGroupsRequest"] & Read): Promise<Schemas["GroupsResult"]> {
    return this.result("query groups", "POST", `${path(collection)}/points/query/groups`, { consistency, timeout }, body);
  }

  private async result<T>(operation: string, method: string, route: string, query: Record<string, unknown> = {}, body?: unknown): Promise<T> {
    const answer = envelopeSchema.safeParse(await this.send(operation, method, route, query, body));
    if (!answer.success) throw qdrantAnswerError(operation, answer.error);
    return answer.data.result as T;
  }

  /** A write with `wait` is only done when Qdrant says "completed"; anything else is not known to be applied. */
  private async write(operation: string, method: string, route: string, query: Write, body: unknown): Promise<UpdateResult> {
    const result = await this.result<UpdateResult>(operation, method, route, query, body);
    if (query.wait && result?.status !== "completed")
      throw new UpstreamTimeoutError(`qdrant ${operation}: accepted but not applied within the wait (status ${result?.status})`);
    return result;
  }

  private async send(operation: string, method: string, route: string, query: Record<string, unknown> = {}, body?: unknown): Promise<unknown> {
    const headers = new Headers({ accept: "application/json", "user-agent": "lifeline" });
    if (body !== undefined) headers.set("content-type", "application/json");
    if (this.options.apiKey) headers.set("api-key", this.options.apiKey);
    let status: number;
    let responseHeaders: Headers;
    let text: string;
    try {
      const response = await fetch(this.baseUrl + route + queryString(query), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      status = response.status;
      responseHeaders = response.headers;
      text = await response.text();
    } catch (err) {
      throw qdrantNetworkError(operation, err, this.displayUrl, this.options.timeoutMs);
    }
    const data = parseJson(text);
    if (status < 200 || status > 299) throw qdrantHttpError(operation, { status, body: data, headers: responseHeaders });
    return data;
  }
}

const path = (collection: string) => `/collections/${encodeURIComponent(collection)}`;

function queryString(params: Record<string, unknown>): string {
  const pairs = Object.entries(params).filter(([, v]) => v !== undefined && v !== null);
  return pairs.length ? `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join("&")}` : "";
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
