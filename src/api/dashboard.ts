import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ElysiaAdapter } from "@bull-board/elysia";
import type { LifelineQueues } from "../../queues/open-queues";

export const DASHBOARD_PATH = "/admin/queues";

type Board = { handle(request: Request): Promise<Response> };

/**
 * bull-board over every Lifeline queue, built on first use (the adapter's registerPlugin is
 * async). It stays a separate Elysia instance that the guarded /admin/queues routes hand
 * requests to: the adapter loads Elysia's CommonJS build, whose instances do not mix with
 * ours (`mount` rejects them), and its ~600 static-file routes stay out of our router and
 * OpenAPI document. Auth is done before a request reaches it (routes/admin.ts).
 */
export function queueDashboard(queues: LifelineQueues): () => Promise<Board> {
  let board: Promise<Board> | undefined;
  return () =>
    (board ??= (async () => {
      const adapter = new ElysiaAdapter(DASHBOARD_PATH);
      createBullBoard({
        queues: Object.values(queues).map((q) => new BullMQAdapter(q)),
        serverAdapter: adapter,
        options: { uiConfig: { boardTitle: "Lifeline queues" } },
      });
      const plugin = await adapter.registerPlugin();
      return { handle: (request: Request) => plugin.handle(request) };
    })());
}
