import { afterAll, beforeAll } from "bun:test";
import Redis from "ioredis";
import { startRedis, type TestRedis } from "../../scripts/lib/redis-process";

export { freePort, startRedis, type TestRedis } from "../../scripts/lib/redis-process";

/**
 * A redis-server for the calling test file and one client on it (as BullMQ needs it), started
 * before its tests and stopped after them. Read the fields inside tests, not at load.
 */
export function redisForFile(): { server: TestRedis; client: Redis } {
  const ctx = {} as { server: TestRedis; client: Redis };
  beforeAll(async () => {
    ctx.server = await startRedis();
    ctx.client = new Redis(ctx.server.url, { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    ctx.client.disconnect();
    await ctx.server.stop();
  });
  return ctx;
}
