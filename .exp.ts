import { loadConfig } from "./src/config";
import { ingestHarness } from "./test/support/ingest-harness";
import { startRedis } from "./test/support/redis-server";
import { testEnv } from "./test/support/test-config";
import { spawnWorker } from "./test/support/worker-process";
import { streamGroupsInfo } from "./src/redis/keyed-commands";
const redis = await startRedis({ appendfsync: "always" });
const env = testEnv(redis.url, { LIFELINE_STREAM_PARTITIONS: "4" });
const h = await ingestHarness(loadConfig(env));
for (let b = 0; b < 10; b++) {
  const batch = Array.from({ length: 10 }, (_, i) => ({ type: "track", userId: `u-${(b * 10 + i) % 30}`, event: "E", messageId: `m-${b}-${i}` }));
  await h.post("/v1/batch", { batch });
}
const w = spawnWorker(env); await w.started; await Bun.sleep(3000); w.proc.kill("SIGTERM"); await w.proc.exited;
const show = async (label: string) => { for (const s of h.deps.keys.allStreams()) { const g = await streamGroupsInfo(h.deps.redis, s); console.log(label, s, JSON.stringify(g), await h.deps.redis.xlen(s)); } };
await show("before");
await h.deps.redis.bgrewriteaof(); await Bun.sleep(1000);
for (let b = 30; b < 40; b++) {
  const batch = Array.from({ length: 10 }, (_, i) => ({ type: "track", userId: `u-${(b * 10 + i) % 30}`, event: "E", messageId: `m-${b}-${i}` }));
  await h.post("/v1/batch", { batch });
}
const w1 = spawnWorker(env); await w1.started; await Bun.sleep(3000); w1.proc.kill("SIGTERM"); await w1.proc.exited;
await show("mid");
await redis.kill(); await redis.restart(); await Bun.sleep(500);
await show("after");
for (let b = 10; b < 20; b++) {
  const batch = Array.from({ length: 10 }, (_, i) => ({ type: "track", userId: `u-${(b * 10 + i) % 30}`, event: "E", messageId: `m-${b}-${i}` }));
  let r = await h.post("/v1/batch", { batch }); while (r.status !== 200) { await Bun.sleep(100); r = await h.post("/v1/batch", { batch }); }
}
const w2 = spawnWorker(env); await w2.started; await Bun.sleep(3000); w2.proc.kill("SIGTERM"); await w2.proc.exited;
await show("after2");
h.close(); await redis.stop();
