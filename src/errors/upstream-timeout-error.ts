import { LifelineError } from "./lifeline-error";

export class UpstreamTimeoutError extends LifelineError {
  readonly code = "UPSTREAM_TIMEOUT" as const;
}
