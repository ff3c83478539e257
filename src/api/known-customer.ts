import type { Profile } from "../../pipelines/profile";
import { CustomerNotFoundError } from "../errors";
import type { AppDeps } from "./deps";

/** The customer an id names (userId, anonymousId or `anon:` id) with its profile; 404 when there is none. */
export async function knownCustomer(deps: Pick<AppDeps, "identities" | "profiles">, id: string): Promise<{ customerId: string; profile: Profile }> {
  const customerId = await deps.identities.resolveId(id);
  const profile = customerId && (await deps.profiles.get(customerId));
  if (!customerId || !profile) throw new CustomerNotFoundError(`no customer "${id}"`);
  return { customerId, profile };
}
