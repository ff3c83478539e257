import type { Profile } from "../../pipelines/profile";
import { CustomerNotFoundError } from "../errors";
import type { AppDeps } from "./deps";

/** The customer an id names (userId, anonymousId or `anon:` id) with its profile; 404 when there is none. */
export async function knownCustomer(deps: Pick<AppDeps, "identities">, id: string): Promise<{ customerId: string; profile: Profile }> {
  const found = await deps.identities.find(id);
  if (!found) throw new CustomerNotFoundError(`no customer "${id}"`);
  return found;
}
