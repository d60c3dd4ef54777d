import { describe, expect, it } from "vitest";
import type { DeadLetterMessage } from "./dead-letters";
import { replayableLetter } from "./replay";

const letter: DeadLetterMessage = {
  reason: "clickhouse_rejected",
  details: "Code: 27",
  event_id: "0192f3a4-b5c6-7d8e-9fa0-b1c2d3e4f5a6",
  source_topic: "events",
  source_partition: 1,
  source_offset: "42",
  failed_at: 1_700_000_000_000,
  payload_base64: Buffer.from('{"event_name":"x"}').toString("base64"),
  key_base64: null,
};

const encoded = (value: unknown) => Buffer.from(JSON.stringify(value));

describe("replayableLetter", () => {
  it("takes a letter with bytes to re-publish", () => {
    expect(replayableLetter(encoded(letter))).toEqual(letter);
  });

  it("skips a letter without a payload, and anything that is not a letter", () => {
    expect(replayableLetter(encoded({ ...letter, payload_base64: "" }))).toBeUndefined();
    expect(replayableLetter(encoded({ ...letter, source_topic: undefined }))).toBeUndefined();
    expect(replayableLetter(Buffer.from("not json"))).toBeUndefined();
    expect(replayableLetter(null)).toBeUndefined();
  });
});
