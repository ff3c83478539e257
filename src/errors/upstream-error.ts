import { LifelineError } from "./lifeline-error";

export class UpstreamError extends LifelineError {
  readonly code = "UPSTREAM_ERROR" as const;
}
