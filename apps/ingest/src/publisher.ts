/** One Kafka record: the partitioning key (user_id) and the JSON event message. */
export interface OutgoingMessage {
  key: string;
  value: string;
}

/**
 * Publishes messages to the event topic. Resolves only once the broker acknowledged every message
 * (acks=all); rejects with an AppError UNAVAILABLE carrying retryAfterSeconds when it did not in time,
 * when too much is in flight, or while shutting down.
 */
export interface EventPublisher {
  publish(messages: OutgoingMessage[]): Promise<void>;
}
