import { LifelineError } from "./lifeline-error";

export class MemoryMismatchError extends LifelineError {
  readonly code = "MEMORY_MISMATCH" as const;
}
