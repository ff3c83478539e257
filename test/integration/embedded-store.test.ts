import { afterEach, beforeEach } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedStore, openEmbeddedStore } from "../../src/memory/embedded-store";
import { CONTRACT_META, memoryStoreContract } from "./memory-store.contract";

let dataDir = "";
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "lifeline-memory-"));
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

memoryStoreContract("embedded", (meta = CONTRACT_META) => openEmbeddedStore({ dataDir, ...meta }), {
  customerVector: (store, customerId) => (store as EmbeddedStore).customerVector(customerId),
});
