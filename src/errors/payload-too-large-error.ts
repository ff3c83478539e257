import { LifelineError } from "./lifeline-error";

export class PayloadTooLargeError extends LifelineError {
  readonly code = "PAYLOAD_TOO_LARGE" as const;
}
