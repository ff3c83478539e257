import { afterEach, beforeEach, test, setDefaultTimeout } from "bun:test";
import { QdrantClient } from "@qdrant/js-client-rest";
import { openQdrantStore } from "../../src/memory/qdrant-store";
import { CONTRACT_META, memoryStoreContract } from "./memory-store.contract";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

const url = Bun.env.QDRANT_URL;
const apiKey = Bun.env.QDRANT_API_KEY;

if (!url) {
  test.skip("qdrant memory store contract: skipped because QDRANT_URL is not set (run `docker compose up qdrant` and set QDRANT_URL=http://localhost:6333)", () => {});
} else {
  const client = new QdrantClient({ url, apiKey, checkCompatibility: false });
  let prefix = "";
  beforeEach(() => {
    prefix = `test_${crypto.randomUUID().replaceAll("-", "")}`;
  });
  afterEach(async () => {
    await Promise.all([`${prefix}_events`, `${prefix}_customers`].map((c) => client.deleteCollection(c).catch(() => undefined)));
  });
  memoryStoreContract("qdrant", (meta = CONTRACT_META) => openQdrantStore({ url, apiKey, prefix, ...meta }));
}
