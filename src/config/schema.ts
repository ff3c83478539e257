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
    REDIS_URL: z.string().url().default("redis://127.0.0.1:6379"),
    /** Comma-separated host:port seeds; when set, Lifeline uses ioredis' Cluster client. */
    REDIS_CLUSTER_NODES: z.string().optional(),
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

    LIFELINE_STAGE_RULES_FILE: z.string().optional(),
    /** Worker processes `npm start` runs beside the API. */
    LIFELINE_WORKER_PROCESSES: z.coerce.number().int().min(0).max(64).default(1),
    LIFELINE_WORKER_CONCURRENCY: positiveInt(4),
    LIFELINE_JOB_ATTEMPTS: positiveInt(5),
    LIFELINE_JOB_BACKOFF_MS: positiveInt(1_000),
    /** Stream entries left pending this long by a consumer are taken over by another. */
    LIFELINE_CLAIM_IDLE_MS: positiveInt(30_000),
    /** How often BullMQ looks for jobs of a dead worker. */
    LIFELINE_STALLED_INTERVAL_MS: positiveInt(30_000),
    LIFELINE_BRIDGE_READ_COUNT: positiveInt(1_000),
    /** Larger jobs fold more events into each profile read and write. */
    LIFELINE_JOB_MAX_EVENTS: positiveInt(5_000),

    /** Churn: no purchase (or activity) within this many days. */
    LIFELINE_CHURN_HORIZON_DAYS: positiveInt(90),
    LIFELINE_CHURN_BASIS: z.enum(["purchase", "activity"]).default("purchase"),
    LIFELINE_CHURN_EXPLICIT_CANCELLATION: flag(true),
    LIFELINE_REFIT_INTERVAL_MS: positiveInt(6 * 3_600_000),
    /** New events re-score a customer this long after the last one (debounced). */
    LIFELINE_RESCORE_DEBOUNCE_MS: positiveInt(5_000),
    LIFELINE_MODEL_REFRESH_MS: positiveInt(5_000),
    LIFELINE_SIGNAL_MAX_BULK: positiveInt(1_000),
    LIFELINE_SIGNAL_WAIT_MS: positiveInt(10_000),
    LIFELINE_RECOMMENDATIONS: positiveInt(10),

    QDRANT_URL: z.string().url().optional(),
    QDRANT_API_KEY: z.string().optional(),
    EMBEDDINGS_PROVIDER: z.enum(["local", "openai"]).default("local"),
    OPENAI_BASE_URL: z.string().url().optional(),
    OPENAI_API_KEY: z.string().optional(),
    LIFELINE_LLM_MODEL: z.string().default("gpt-4o-mini"),
    /** Per chat-completion attempt of the strategy writer. */
    LIFELINE_LLM_TIMEOUT_MS: positiveInt(20_000),
    /** Retries after the first attempt, on 429, 5xx, timeouts and malformed answers; then the fallback playbook answers. */
    LIFELINE_LLM_MAX_RETRIES: z.coerce.number().int().min(0).default(2),
    /** Consecutive failed strategy calls that open the circuit breaker (answers then come from the fallback at once). */
    LIFELINE_LLM_BREAKER_FAILURES: positiveInt(5),
    /** How long the breaker stays open before one trial call is let through. */
    LIFELINE_LLM_BREAKER_COOLDOWN_MS: positiveInt(30_000),
    LIFELINE_EMBEDDING_MODEL: z.string().default("text-embedding-3-small"),
    LIFELINE_EMBEDDING_DIMENSIONS: z.coerce.number().int().positive().optional(),
    LIFELINE_EMBEDDING_BATCH_SIZE: positiveInt(128),
    LIFELINE_EMBEDDING_TIMEOUT_MS: positiveInt(30_000),
    LIFELINE_EMBEDDING_MAX_RETRIES: z.coerce.number().int().min(0).default(4),
    LIFELINE_LOCAL_VOCAB_SIZE: positiveInt(100_000),
    /** Events embedded and upserted together by the embed worker. */
    LIFELINE_EMBED_BATCH_SIZE: positiveInt(256).pipe(z.number().max(4096)),
    /** How long the embed worker waits for a batch to fill before embedding what it has. */
    LIFELINE_EMBED_MAX_WAIT_MS: positiveInt(200),
    /** After DELETE /clients/:id, events of that customer still in flight are dropped for this long. */
    LIFELINE_ERASURE_TOMBSTONE_SECONDS: positiveInt(3 * 86_400),

    /** Events per second per write key on ingest (token bucket in Redis, shared by API replicas); 0 = off. */
    LIFELINE_RATE_LIMIT_EVENTS_PER_SEC: z.coerce.number().int().min(0).default(20_000),
    /** Requests per second per read or admin key; 0 = off. */
    LIFELINE_RATE_LIMIT_REQUESTS_PER_SEC: z.coerce.number().int().min(0).default(200),
    /** GET /ready answers 503 when undelivered stream entries plus waiting jobs exceed this; 0 = no check. */
    LIFELINE_READY_MAX_BACKLOG: z.coerce.number().int().min(0).default(1_000_000),
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
    if (c.EMBEDDINGS_PROVIDER === "openai" && !c.OPENAI_API_KEY && !c.OPENAI_BASE_URL)
      ctx.addIssue({ code: "custom", path: ["OPENAI_BASE_URL"], message: "EMBEDDINGS_PROVIDER=openai needs OPENAI_BASE_URL or OPENAI_API_KEY" });
  });

export type Config = z.infer<typeof configSchema>;
export type Env = Record<string, string | undefined>;

/** Names of settings whose values must never reach a log line. */
export const secretSettings = ["LIFELINE_WRITE_KEYS", "LIFELINE_READ_KEYS", "LIFELINE_ADMIN_KEYS", "OPENAI_API_KEY", "QDRANT_API_KEY"] as const;
