import { LifelineError } from "./lifeline-error";

/** The configured store cannot keep the memory correct (e.g. a Qdrant server too old); an operator must act. */
export class UnsupportedStoreError extends LifelineError {
  readonly code = "STORE_UNSUPPORTED" as const;
}
