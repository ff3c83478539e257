/** A process cannot start (port taken, Redis unreachable, data folder in use); the message says what and how to fix it. */
export class StartupError extends Error {
  override readonly name = "StartupError";
}
