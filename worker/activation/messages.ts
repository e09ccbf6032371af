/**
 * What travels through the DELIVERIES queue: one delivery (its row in D1 holds the payload and
 * state, so a message is tiny and a redelivered message finds the delivery already done), or an
 * audience job (turn a destination's pending audience changes into add/remove batches).
 */
export type DeliveryMessage = { kind: "delivery"; id: string } | { kind: "audience"; destinationId: string };

export async function enqueueDeliveries(queue: Queue, messages: DeliveryMessage[], delaySeconds = 0): Promise<void> {
  for (let i = 0; i < messages.length; i += 100) {
    await queue.sendBatch(messages.slice(i, i + 100).map((body) => ({ body, contentType: "json" as const, ...(delaySeconds > 0 ? { delaySeconds } : {}) })));
  }
}

/** The delivery id, also the `webhook-id`: stable per (destination, event), so a redelivery repeats it. */
export async function deliveryId(destinationId: string, messageId: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${destinationId}\n${messageId}`));
  return `msg_${[...new Uint8Array(digest).subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}
