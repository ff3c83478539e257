// `bun run replay-dead-letters [--list] [id ...]`: puts dead letters back on their queues
// (all of them, or the ids given) against the Redis of the current settings.
import { closeQueues, openQueues } from "../queues/open-queues";
import { replayDeadLetters } from "../queues/dead-letter";
import { loadConfig } from "../src/config";
import { createSuppression } from "../src/profiles/suppression";
import { createRedis, waitUntilReady } from "../src/redis/connection";
import { keyspace } from "../src/redis/keys";

const args = process.argv.slice(2);
const config = loadConfig();
const redis = createRedis(config, "worker");
await waitUntilReady(redis, 10_000);
const queues = openQueues(config, redis);
try {
  if (args.includes("--list")) {
    const jobs = await queues["dead-letter"].getJobs(["waiting", "delayed", "paused", "prioritized"], 0, -1);
    for (const job of jobs) process.stdout.write(`${job.id}\t${job.name}\t${(job.data as { reason?: string }).reason ?? ""}\n`);
    process.stdout.write(`${jobs.length} dead letter(s)\n`);
  } else {
    const ids = args.filter((a) => !a.startsWith("--"));
    const { clean, embed, inference } = queues;
    const suppression = createSuppression(redis, keyspace(config.LIFELINE_KEY_PREFIX, config.LIFELINE_STREAM_PARTITIONS), config);
    const result = await replayDeadLetters(queues["dead-letter"], { clean, embed, inference }, suppression, ids.length ? ids : undefined);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (result.skipped.length) process.exitCode = 1;
  }
} finally {
  await closeQueues(queues);
  redis.disconnect();
}
