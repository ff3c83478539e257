/** A flag of `bun run eval` (or what it names) cannot be used; the message says which, why and how to fix it. */
export class EvalUsageError extends Error {
  /** A usage mistake, like an unknown flag. */
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = "EvalUsageError";
  }
}
