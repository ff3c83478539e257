// The baseline of bench:ingest: an Elysia POST endpoint that reads and JSON-parses the body
// and returns, with no validation and no Redis.
import { Elysia } from "elysia";

const app = new Elysia()
  .post("/events", async ({ request }) => {
    const body = JSON.parse(await request.text());
    return { accepted: Array.isArray(body) ? body.length : 1, duplicates: 0, rejected: [] };
  }, { parse: "none" })
  .post("/v1/batch", async ({ request }) => {
    const body = JSON.parse(await request.text());
    return { accepted: body.batch.length, duplicates: 0, rejected: [] };
  }, { parse: "none" })
  .listen({ port: Number(process.env.PORT ?? 0), hostname: "127.0.0.1" });

console.log(`listening ${app.server!.port}`);
