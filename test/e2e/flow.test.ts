import { startRedis } from "../support/redis-server";
import { flowSuite } from "./flow.suite";

flowSuite("single Redis", {
  connect: async () => {
    const redis = await startRedis();
    return { redisUrl: redis.url, stop: () => redis.stop() };
  },
});
