import { z } from "zod";

const keyList = z
  .string()
  .optional()
  .transform((raw) => (raw ?? "").split(",").map((k) => k.trim()).filter(Boolean));

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const flag = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no"])
    .optional()
    .transform((v) => (v === undefined ? fallback : ["true", "1", "yes"].includes(v)));

export const configSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    HOST: z.string().default("0.0.0.0"),
    /** Share PORT with other processes (SO_REUSEPORT, the kernel spreads connections); off: a taken port stops start-up. */
    LIFELINE_REUSE_PORT: flag(false),
    /** redis:// or rediss:// for one Redis; redis+cluster://[user:pass@]host:port,host:port (rediss+cluster:// for TLS) for a Redis Cluster. */
    REDIS_URL: z
      .string()
      .default("redis://127.0.0.1:6379")
      .refine((u) => (isClusterUrl(u) ? parseClusterUrl(u).seeds.length > 0 : URL.canParse(u)), {
        message: "a redis:// URL, or redis+cluster://host:port,host:port for a Redis Cluster",
      }),
    /** Comma-separated host:port seeds; when set, Lifeline uses ioredis' Cluster client (same as a redis+cluster:// REDIS_URL). */
    REDIS_CLUSTER_NODES: z.string().optional(),
    /**
     * Replicas that must acknowledge an ingest append before the 2xx (WAIT after the append, on the
     * same node); fewer within LIFELINE_INGEST_WAIT_TIMEOUT_MS → 503 with Retry-After. 0 = don't wait.
     */
    LIFELINE_INGEST_WAIT_REPLICAS: z.coerce.number().int().min(0).max(16).default(0),
    LIFELINE_INGEST_WAIT_TIMEOUT_MS: positiveInt(200),
    LIFELINE_DATA_DIR: z.string().default("./data"),
    /** Where the local embedding model's converted cache lives; defaults to LIFELINE_DATA_DIR. */
    LIFELINE_MODEL_CACHE_DIR: z.string().optional(),
    LIFELINE_KEY_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]+$/, "letters, digits, _ . : - only (no braces: hash tags are added by Lifeline)")
      .default("lifeline"),
    LIFELINE_WRITE_KEYS: keyList,
    LIFELINE_READ_KEYS: keyList,
    LIFELINE_ADMIN_KEYS: keyList,

    LIFELINE_STREAM_PARTITIONS: positiveInt(16).pipe(z.number().max(1024)),
    /** Approximate cap per partition stream; keep it well above the worst expected backlog. */
    LIFELINE_STREAM_MAXLEN: positiveInt(1_000_000),
    LIFELINE_DEDUP_TTL_SECONDS: positiveInt(86_400),
    LIFELINE_MAX_EVENT_BYTES: positiveInt(32 * 1024),
    LIFELINE_MAX_BODY_BYTES: positiveInt(500 * 1024),
    LIFELINE_MAX_BATCH_EVENTS: positiveInt(2_500),
    LIFELINE_FUTURE_TOLERANCE_HOURS: positiveInt(23),
    LIFELINE_REDIS_TIMEOUT_MS: positiveInt(2_000),
    /** At start-up, how long the API and workers wait for Redis to answer before they stop, naming the setting that points there. */
    LIFELINE_REDIS_STARTUP_WAIT_MS: positiveInt(30_000),

    LIFELINE_STAGE_RULES_FILE: z.string().optional(),
    /** Worker processes `npm start` runs beside the API. */
    LIFELINE_WORKER_PROCESSES: z.coerce.number().int().min(0).max(64).default(1),
    /** On SIGINT/SIGTERM, how long a process waits for requests and jobs in flight before it exits anyway (unfinished jobs are retried). */
    LIFELINE_STOP_TIMEOUT_MS: positiveInt(10_000),
    /** Set by `npm start` for the processes it starts: each one stops when the process that started it is gone. */
    LIFELINE_SUPERVISOR_PID: z.coerce.number().int().positive().optional(),
    LIFELINE_WORKER_CONCURRENCY: positiveInt(4),
    /** Scoring jobs mostly wait on Redis and the vector memory: many run at once. */
    LIFELINE_INFERENCE_CONCURRENCY: positiveInt(32),
    LIFELINE_JOB_ATTEMPTS: positiveInt(5),
    LIFELINE_JOB_BACKOFF_MS: positiveInt(1_000),
    /** Stream entries left pending this long by a consumer are taken over by another. */
    LIFELINE_CLAIM_IDLE_MS: positiveInt(30_000),
    /** How often BullMQ looks for jobs of a dead worker. */
    LIFELINE_STALLED_INTERVAL_MS: positiveInt(30_000),
    /**
     * Times a job may be taken back from a worker that died before it is dead-lettered. BullMQ's
     * default (1) turns a crash-looping worker's accepted events into dead letters; a stall is found
     * at most once per lock time, so 1000 outlasts hours of crash loop and still stops a job that
     * itself kills every worker that takes it.
     */
    LIFELINE_JOB_MAX_STALLS: positiveInt(1_000),
    LIFELINE_BRIDGE_READ_COUNT: positiveInt(1_000),
    /** Under light load the stream bridge waits this long between reads, so each job carries more events (adds up to this much latency). */
    LIFELINE_BRIDGE_LINGER_MS: z.coerce.number().int().nonnegative().default(50),
    /** Larger jobs fold more events into each profile read and write. */
    LIFELINE_JOB_MAX_EVENTS: positiveInt(5_000),
    /**
     * Profiles a worker keeps parsed between writes (approximate MB of their JSON), so a write
     * to a known customer reads no profile back: 0 turns it off.
     */
    LIFELINE_PROFILE_CACHE_MB: z.coerce.number().int().nonnegative().default(64),

    /** Churn: no purchase (or activity) within this many days. */
    LIFELINE_CHURN_HORIZON_DAYS: positiveInt(90),
    LIFELINE_CHURN_BASIS: z.enum(["purchase", "activity"]).default("purchase"),
    LIFELINE_CHURN_EXPLICIT_CANCELLATION: flag(true),
    /** Models older than this are refitted even when the data has not changed much. */
    LIFELINE_REFIT_INTERVAL_MS: positiveInt(6 * 3_600_000),
    /** Refit when customers or purchases grew by this share since the last fit (0.2 = a fifth). */
    LIFELINE_REFIT_GROWTH: z.coerce.number().positive().max(100).default(0.2),
    /** Refit on its own when models are missing, stale or fitted on much less data (off: only on request). */
    LIFELINE_REFIT_AUTO: flag(true),
    /** How often each worker checks whether the data changed enough for a refit. */
    LIFELINE_REFIT_CHECK_MS: positiveInt(10_000),
    /** Automatic refits are at least this far apart (a big import would otherwise refit again and again). */
    LIFELINE_REFIT_MIN_INTERVAL_MS: positiveInt(30_000),
    /** New events re-score a customer this long after the first of them: once per window, however busy. */
    LIFELINE_RESCORE_DEBOUNCE_MS: positiveInt(30_000),
    LIFELINE_MODEL_REFRESH_MS: positiveInt(5_000),
    LIFELINE_SIGNAL_MAX_BULK: positiveInt(1_000),
    LIFELINE_SIGNAL_WAIT_MS: positiveInt(10_000),
    /** Time a score may spend on memory retrieval (query embedding, searches); past it the strategy goes without. Default: a fifth of LIFELINE_SIGNAL_WAIT_MS. */
    LIFELINE_RETRIEVAL_TIMEOUT_MS: z.coerce.number().int().positive().optional(),
    /** All LLM attempts and waits of one strategy; then the playbook answers. Default: three fifths of LIFELINE_SIGNAL_WAIT_MS. */
    LIFELINE_LLM_BUDGET_MS: z.coerce.number().int().positive().optional(),
    LIFELINE_RECOMMENDATIONS: positiveInt(10),

    QDRANT_URL: z.string().url().optional(),
    QDRANT_API_KEY: z.string().optional(),
    /** local: offline word vectors; openai: any OpenAI-compatible endpoint; onnx: a sentence model in LIFELINE_ONNX_MODEL_DIR. */
    EMBEDDINGS_PROVIDER: z.enum(["local", "openai", "onnx"]).default("local"),
    /** A folder with model.onnx (or onnx/model.onnx) and tokenizer.json or vocab.txt (a WordPiece/BERT-family sentence model). */
    LIFELINE_ONNX_MODEL_DIR: z.string().optional(),
    /** Tokens per text the ONNX model sees (longer texts are cut). */
    LIFELINE_ONNX_MAX_TOKENS: positiveInt(256),
    OPENAI_BASE_URL: z.string().url().optional(),
    OPENAI_API_KEY: z.string().optional(),
    LIFELINE_LLM_MODEL: z.string().default("gpt-4o-mini"),
    /** Per chat-completion attempt of the strategy writer (less when LIFELINE_LLM_BUDGET_MS has less left). */
    LIFELINE_LLM_TIMEOUT_MS: positiveInt(20_000),
    /** Retries after the first attempt, on 429, 5xx, timeouts and malformed answers; then the fallback playbook answers. */
    LIFELINE_LLM_MAX_RETRIES: z.coerce.number().int().min(0).default(2),
    /** Consecutive failed LLM attempts (a timeout counts the moment it happens) that open the circuit breaker: answers then come from the fallback at once. */
    LIFELINE_LLM_BREAKER_FAILURES: positiveInt(5),
    /** How long the breaker stays open before one trial call is let through. */
    LIFELINE_LLM_BREAKER_COOLDOWN_MS: positiveInt(30_000),
    LIFELINE_EMBEDDING_MODEL: z.string().default("text-embedding-3-small"),
    LIFELINE_EMBEDDING_DIMENSIONS: z.coerce.number().int().positive().optional(),
    LIFELINE_EMBEDDING_BATCH_SIZE: positiveInt(128),
    LIFELINE_EMBEDDING_TIMEOUT_MS: positiveInt(30_000),
    LIFELINE_EMBEDDING_MAX_RETRIES: z.coerce.number().int().min(0).default(4),
    /** Consecutive failed embedding requests (outages, refused settings) that pause a process's embedding calls. */
    LIFELINE_EMBEDDING_BREAKER_FAILURES: positiveInt(5),
    /** First pause; each failed trial doubles it up to LIFELINE_EMBEDDING_BREAKER_MAX_COOLDOWN_MS. Embed jobs wait meanwhile, nothing is dead-lettered. */
    LIFELINE_EMBEDDING_BREAKER_COOLDOWN_MS: positiveInt(5_000),
    LIFELINE_EMBEDDING_BREAKER_MAX_COOLDOWN_MS: positiveInt(300_000),
    LIFELINE_LOCAL_VOCAB_SIZE: positiveInt(100_000),
    /** Events embedded and upserted together by the embed worker. */
    LIFELINE_EMBED_BATCH_SIZE: positiveInt(256).pipe(z.number().max(4096)),
    /** How long the embed worker waits for a batch to fill before embedding what it has. */
    LIFELINE_EMBED_MAX_WAIT_MS: positiveInt(200),
    /** After DELETE /clients/:id, events of that customer still in flight are dropped for this long. */
    LIFELINE_ERASURE_TOMBSTONE_SECONDS: positiveInt(3 * 86_400),
    /**
     * How long an erased customer's ids stay suppressed (events, identity links and dead-letter
     * replays for them are dropped), kept as keyed hashes, not the ids. 0 = until lifted.
     */
    LIFELINE_ERASURE_SUPPRESSION_DAYS: z.coerce.number().int().min(0).default(0),
    /** Key of those hashes; when unset one is made once and kept in Redis (set it to keep the hashes unlinkable for whoever reads Redis). */
    LIFELINE_SUPPRESSION_SECRET: z.string().min(16, "at least 16 characters").optional(),

    /** Events per second per write key on ingest (token bucket in Redis, shared by API replicas); 0 = off. */
    LIFELINE_RATE_LIMIT_EVENTS_PER_SEC: z.coerce.number().int().min(0).default(20_000),
    /** Requests per second per read or admin key; 0 = off. */
    LIFELINE_RATE_LIMIT_REQUESTS_PER_SEC: z.coerce.number().int().min(0).default(200),
    /** GET /ready answers 503 when more accepted events than this wait for the workers (not yet read from the streams, or in waiting clean and embed jobs); 0 = no check. */
    LIFELINE_READY_MAX_BACKLOG: z.coerce.number().int().min(0).default(1_000_000),
    /** GET /ready reports "degraded" when more dead letters (or failed jobs) than this wait for an operator. */
    LIFELINE_READY_MAX_DEAD_LETTERS: z.coerce.number().int().min(0).default(0),
    /** GET /ready reports "degraded" when workers started more often than this in 10 minutes (a crash loop). */
    LIFELINE_READY_MAX_WORKER_STARTS: positiveInt(10),
    /** How long a dashboard login (cookie) lasts. */
    LIFELINE_ADMIN_SESSION_HOURS: positiveInt(12),

    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .superRefine((c, ctx) => {
    const roles = [
      ["LIFELINE_WRITE_KEYS", c.LIFELINE_WRITE_KEYS],
      ["LIFELINE_READ_KEYS", c.LIFELINE_READ_KEYS],
      ["LIFELINE_ADMIN_KEYS", c.LIFELINE_ADMIN_KEYS],
    ] as const;
    const owner = new Map<string, string>();
    for (const [name, keys] of roles)
      for (const key of keys) {
        const other = owner.get(key);
        if (other && other !== name)
          ctx.addIssue({ code: "custom", path: [name], message: `a key is also listed in ${other}; each role needs its own keys` });
        owner.set(key, name);
      }
    if (c.EMBEDDINGS_PROVIDER === "onnx" && !c.LIFELINE_ONNX_MODEL_DIR)
      ctx.addIssue({ code: "custom", path: ["LIFELINE_ONNX_MODEL_DIR"], message: "EMBEDDINGS_PROVIDER=onnx needs the folder of the model (model.onnx and tokenizer.json)" });
    const budget = scoringBudget(c);
    if (budget.retrievalMs + budget.llmMs >= c.LIFELINE_SIGNAL_WAIT_MS)
      ctx.addIssue({
        code: "custom",
        path: [c.LIFELINE_LLM_BUDGET_MS ? "LIFELINE_LLM_BUDGET_MS" : "LIFELINE_RETRIEVAL_TIMEOUT_MS"],
        message: `retrieval (${budget.retrievalMs} ms) and the LLM (${budget.llmMs} ms) must fit in LIFELINE_SIGNAL_WAIT_MS (${c.LIFELINE_SIGNAL_WAIT_MS} ms) with time to spare`,
      });
    if (c.EMBEDDINGS_PROVIDER === "openai" && !c.OPENAI_API_KEY && !c.OPENAI_BASE_URL)
      ctx.addIssue({ code: "custom", path: ["OPENAI_BASE_URL"], message: "EMBEDDINGS_PROVIDER=openai needs OPENAI_BASE_URL or OPENAI_API_KEY" });
  });

export type Config = z.infer<typeof configSchema>;

/**
 * How one score fits in LIFELINE_SIGNAL_WAIT_MS, so a caller waiting for it gets it: retrieval at
 * most a fifth, the LLM at most three fifths; the rest is queueing, scoring and storing.
 */
export function scoringBudget(c: Pick<Config, "LIFELINE_SIGNAL_WAIT_MS" | "LIFELINE_RETRIEVAL_TIMEOUT_MS" | "LIFELINE_LLM_BUDGET_MS">) {
  return {
    retrievalMs: c.LIFELINE_RETRIEVAL_TIMEOUT_MS ?? Math.floor(c.LIFELINE_SIGNAL_WAIT_MS / 5),
    llmMs: c.LIFELINE_LLM_BUDGET_MS ?? Math.floor((c.LIFELINE_SIGNAL_WAIT_MS * 3) / 5),
  };
}

export type RedisSeed = { host: string; port: number };
export type ClusterTarget = { seeds: RedisSeed[]; username?: string; password?: string; tls: boolean };

const isClusterUrl = (url: string) => /^rediss?\+cluster:\/\//i.test(url);

function parseSeeds(list: string): RedisSeed[] {
  return list
    .split(",")
    .map((seed) => seed.trim())
    .filter(Boolean)
    .map((seed) => {
      const colon = seed.lastIndexOf(":");
      const host = colon > 0 ? seed.slice(0, colon).replace(/^\[|\]$/g, "") : seed;
      const port = colon > 0 ? Number(seed.slice(colon + 1)) : 6379;
      return { host, port };
    })
    .filter((s) => s.host && Number.isInteger(s.port) && s.port > 0 && s.port < 65536);
}

function parseClusterUrl(url: string): ClusterTarget {
  const rest = url.replace(/^rediss?\+cluster:\/\//i, "");
  const at = rest.lastIndexOf("@");
  const [user, pass] = at >= 0 ? rest.slice(0, at).split(":").map(decodeURIComponent) : [];
  const hosts = (at >= 0 ? rest.slice(at + 1) : rest).replace(/\/.*$/, "");
  return { seeds: parseSeeds(hosts), username: user || undefined, password: pass || undefined, tls: /^rediss/i.test(url) };
}

/**
 * The Redis Cluster to use, if any: REDIS_CLUSTER_NODES seeds, or a redis+cluster:// REDIS_URL
 * (one setting carries seeds, credentials and TLS, which is what managed services hand out).
 */
export function redisClusterTarget(c: Pick<Config, "REDIS_URL" | "REDIS_CLUSTER_NODES">): ClusterTarget | undefined {
  if (c.REDIS_CLUSTER_NODES) return { seeds: parseSeeds(c.REDIS_CLUSTER_NODES), tls: false };
  return isClusterUrl(c.REDIS_URL) ? parseClusterUrl(c.REDIS_URL) : undefined;
}
export type Env = Record<string, string | undefined>;

/** Names of settings whose values must never reach a log line. */
export const secretSettings = ["LIFELINE_WRITE_KEYS", "LIFELINE_READ_KEYS", "LIFELINE_ADMIN_KEYS", "OPENAI_API_KEY", "QDRANT_API_KEY", "LIFELINE_SUPPRESSION_SECRET"] as const;
