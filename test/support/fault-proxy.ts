/**
 * A loopback HTTP proxy in front of a real server that fails chosen requests the way networks and
 * servers do, to test how a client recovers (the real server still does the work it is sent):
 *
 *   const proxy = startFaultProxy(Bun.env.QDRANT_URL!);
 *   proxy.failNext((r) => r.method === "PUT" && r.path.endsWith("_customers/points"), { kind: "status", status: 500 });
 *
 * "status": answers that status without forwarding. "late": forwards, lets the server apply it,
 * and answers only after `delayMs` (past the client's timeout, so the client gives up first).
 */

export type Fault = { kind: "status"; status: number } | { kind: "late"; delayMs: number };
type Match = (request: { method: string; path: string }) => boolean;

export type FaultProxy = {
  url: string;
  failNext(match: Match, fault: Fault): void;
  /** Faults armed but not yet triggered. */
  pending(): number;
  stop(): void;
};

export function startFaultProxy(target: string): FaultProxy {
  const armed: { match: Match; fault: Fault }[] = [];
  const base = target.replace(/\/+$/, "");
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const i = armed.findIndex((a) => a.match({ method: req.method, path: url.pathname }));
      const fault = i >= 0 ? armed.splice(i, 1)[0]!.fault : undefined;
      if (fault?.kind === "status")
        return Response.json({ status: { error: "Service internal error: injected by the test proxy" }, time: 0 }, { status: fault.status });
      const headers = new Headers(req.headers);
      headers.delete("host");
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
      const answer = await fetch(base + url.pathname + url.search, { method: req.method, headers, body });
      const bytes = await answer.arrayBuffer();
      if (fault?.kind === "late") await Bun.sleep(fault.delayMs);
      // fetch already decoded the body; its length and encoding headers no longer apply.
      const answerHeaders = new Headers(answer.headers);
      answerHeaders.delete("content-encoding");
      answerHeaders.delete("content-length");
      return new Response(bytes, { status: answer.status, headers: answerHeaders });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    failNext: (match, fault) => void armed.push({ match, fault }),
    pending: () => armed.length,
    stop: () => void server.stop(true),
  };
}
