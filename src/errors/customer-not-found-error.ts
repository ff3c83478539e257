import { LifelineError } from "./lifeline-error";

export class CustomerNotFoundError extends LifelineError {
  readonly code = "CUSTOMER_NOT_FOUND" as const;
}
