export { freePort, startRedis, type TestRedis } from "../../scripts/lib/redis-process";
