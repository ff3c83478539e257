/** BullMQ refuses custom job ids with ':' or that look like integers; keep any text usable. */
export function jobIdFor(text: string): string {
  if (!text.includes(":") && !/^\d+$/.test(text)) return text;
  return `b64-${Buffer.from(text).toString("base64url")}`;
}

/** Job ids of clean and embed jobs end in -n<events>: the backlog is counted from ids alone (backlog.ts). */
export const withEventCount = (id: string, events: number) => `${id}-n${events}`;
