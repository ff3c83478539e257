import { LifelineError } from "./lifeline-error";

export class StoreUnavailableError extends LifelineError {
  readonly code = "STORE_UNAVAILABLE" as const;
}
