// `bun run replay-dead-letters [--list] [id ...]`: puts dead letters back on their queues (all
// of them, or the ids given) in the Redis of the instance `npm start` runs from the data folder.
import { closeQueues, openQueues } from "../queues/open-queues";
import { replayDeadLetters } from "../queues/dead-letter";
import { parseCli } from "../src/process/cli";
import { runProcess } from "../src/process/fatal";
import { createSuppression } from "../src/profiles/suppression";
import { createRedis, waitUntilReady } from "../src/redis/connection";
import { keyspace } from "../src/redis/keys";
import { cliTarget } from "./lib/instance";

const { values: flags, positionals: ids } = parseCli({
  command: "bun run replay-dead-letters",
  description:
    "Puts dead letters back on their queues as new jobs (all of them, or the ids given) and removes them from the dead-letter queue.\n" +
    "Acts on the instance `npm start` runs from the data folder (its Redis and key prefix); environment variables and flags override.",
  options: {
    list: { type: "boolean", description: "list the dead letters (id, job, reason) and replay nothing" },
    "data-dir": { type: "string", valueHint: "dir", description: "data folder of the instance (default: LIFELINE_DATA_DIR or ./data of this checkout)" },
    "redis-url": { type: "string", valueHint: "url", description: "Redis to act on (default: the instance's, or REDIS_URL)" },
    "key-prefix": { type: "string", valueHint: "prefix", description: "LIFELINE_KEY_PREFIX (default: the instance's)" },
  },
  positionals: { usage: "[id ...]", description: "dead-letter ids to replay (default: all); ids that are no dead letter are reported as unknown" },
});

runProcess("replay-dead-letters", async () => {
  const target = cliTarget({ dataDir: flags["data-dir"], settings: { REDIS_URL: flags["redis-url"], LIFELINE_KEY_PREFIX: flags["key-prefix"] } });
  const config = target.config({ needsRedis: true });
  const redis = createRedis(config, "worker");
  await waitUntilReady(redis, 10_000);
  const queues = openQueues(config, redis);
  try {
    if (flags.list) {
      const jobs = await queues["dead-letter"].getJobs(["waiting", "delayed", "paused", "prioritized"], 0, -1);
      for (const job of jobs) process.stdout.write(`${job.id}\t${job.name}\t${(job.data as { reason?: string }).reason ?? ""}\n`);
      process.stdout.write(`${jobs.length} dead letter(s)\n`);
    } else {
      const { clean, embed, inference } = queues;
      const suppression = createSuppression(redis, keyspace(config.LIFELINE_KEY_PREFIX, config.LIFELINE_STREAM_PARTITIONS), config);
      const result = await replayDeadLetters(queues["dead-letter"], { clean, embed, inference }, suppression, ids.length ? ids : undefined);
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      for (const id of result.unknown) process.stderr.write(`replay-dead-letters: ${id}: unknown (no dead letter has this id)\n`);
      if (result.skipped.length || result.unknown.length) process.exitCode = 1;
    }
  } finally {
    await closeQueues(queues);
    redis.disconnect();
  }
});
