/** One Kafka record: the partitioning key (user_id) and the JSON event message, as UTF-8. */
export interface OutgoingMessage {
  key: Buffer;
  value: Buffer;
}

/** A message before encoding: the general path's JSON text and key. */
export interface MessageText {
  key: string;
  value: string;
}

/**
 * The messages' keys and values as UTF-8, in one buffer for the whole call when it is all ASCII (as
 * the JSON values of SDK events nearly always are): one encoding and one allocation instead of two per
 * message. Otherwise each is encoded on its own.
 */
export function encodeMessages(messages: readonly MessageText[]): OutgoingMessage[] {
  const parts: string[] = new Array(messages.length * 2);
  for (let i = 0; i < messages.length; i += 1) {
    const message = messages[i] as MessageText;
    parts[2 * i] = message.value;
    parts[2 * i + 1] = message.key;
  }
  const text = parts.join("");
  const bytes = Buffer.from(text, "utf8");
  const out: OutgoingMessage[] = new Array(messages.length);
  if (bytes.length !== text.length) {
    for (let i = 0; i < messages.length; i += 1) {
      const message = messages[i] as MessageText;
      out[i] = { key: Buffer.from(message.key), value: Buffer.from(message.value) };
    }
    return out;
  }
  let at = 0;
  for (let i = 0; i < messages.length; i += 1) {
    const message = messages[i] as MessageText;
    const valueEnd = at + message.value.length;
    const keyEnd = valueEnd + message.key.length;
    out[i] = { key: bytes.subarray(valueEnd, keyEnd), value: bytes.subarray(at, valueEnd) };
    at = keyEnd;
  }
  return out;
}

/**
 * Publishes messages to the event topic. Resolves only once the broker acknowledged every message
 * (acks=all); rejects with an AppError UNAVAILABLE carrying retryAfterSeconds when it did not in time,
 * when too much is in flight, or while shutting down.
 */
export interface EventPublisher {
  publish(messages: OutgoingMessage[]): Promise<void>;
}
