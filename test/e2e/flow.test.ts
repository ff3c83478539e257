import { setDefaultTimeout } from "bun:test";
import { startRedis } from "../support/redis-server";
import { flowSuite } from "./flow.suite";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

flowSuite("single Redis", {
  connect: async () => {
    const redis = await startRedis();
    return { redisUrl: redis.url, stop: () => redis.stop() };
  },
});
