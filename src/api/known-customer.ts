import type { Profile } from "../../pipelines/profile";
import { idTextSchema } from "../../pipelines/segment";
import { CustomerNotFoundError, InvalidRequestError } from "../errors";
import type { AppDeps } from "./deps";

/** The customer an id names (userId, anonymousId or `anon:` id) with its profile; 404 when there is none. */
export async function knownCustomer(deps: Pick<AppDeps, "identities">, id: string): Promise<{ customerId: string; profile: Profile }> {
  const checked = idTextSchema.safeParse(id);
  if (!checked.success) throw new InvalidRequestError(`id ${checked.error.issues[0]?.message ?? "is not valid"}`, { details: { path: "id" } });
  const found = await deps.identities.find(checked.data);
  if (!found) throw new CustomerNotFoundError(`no customer "${id}"`);
  return found;
}
