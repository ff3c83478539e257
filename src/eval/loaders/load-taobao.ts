/** Taobao UserBehavior (814 complete users) as recommender histories. */
import type { RecKind, RecHistory } from "../../../pipelines/recommend";

/** The data set's nominal window, 2017-11-25 .. 2017-12-03 in China time (UTC+8). */
export const TAOBAO_START_MS = Date.parse("2017-11-25T00:00:00+08:00");
export const TAOBAO_END_MS = Date.parse("2017-12-04T00:00:00+08:00");

const kindOf: Record<string, RecKind> = { pv: "view", cart: "cart", fav: "wishlist", buy: "purchase" };

/** Every user's events sorted by time; the 35 stray events outside the nominal window dropped. */
export async function loadTaobaoHistories(file: string): Promise<RecHistory[]> {
  const byUser = new Map<string, RecHistory["events"]>();
  for (const row of (await Bun.file(file).text()).split("\n")) {
    if (!row) continue;
    const [user = "", item = "", category = "", behaviour = "", seconds = ""] = row.split(",");
    const ts = Number(seconds) * 1000;
    const kind = kindOf[behaviour];
    if (!kind || ts < TAOBAO_START_MS || ts >= TAOBAO_END_MS) continue;
    const events = byUser.get(user) ?? byUser.set(user, []).get(user)!;
    events.push({ ts, itemId: item, category, kind });
  }
  return [...byUser].map(([customerId, events]) => ({ customerId, events: events.sort((a, b) => a.ts - b.ts) }));
}
