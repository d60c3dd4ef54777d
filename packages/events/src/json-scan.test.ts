import { describe, expect, it } from "vitest";
import { NameSet } from "./json-scan";

/** Reads the keys of `{"a":0,"b":0}`-shaped text in order with `readKey`: each key's index and closing quote. */
function readKeys(names: NameSet, text: string): [number, number][] {
  const b = Buffer.from(text, "latin1");
  const found: [number, number][] = [];
  let previous = -1;
  for (let i = 1; i < b.length; ) {
    const index = names.readKey(b, i, previous);
    found.push([index, index < 0 ? -1 : names.keyEnd]);
    if (index < 0) break;
    previous = index;
    i = names.keyEnd + 4;
  }
  return found;
}

describe("NameSet.readKey", () => {
  const names = new NameSet(["event_id", "channel", "metadata", "app"]);

  it("finds each key whatever order the objects before it had, guesses right or wrong", () => {
    const orders = ['{"event_id":0,"channel":0,"app":0}', '{"app":0,"metadata":0,"event_id":0}', '{"channel":0,"event_id":0}'];
    for (const text of [...orders, ...orders, ...orders.reverse()]) {
      const expected = [...text.matchAll(/"(\w+)"/g)].map((match) => [
        names.names.findIndex((name) => name.toString("latin1") === match[1]),
        (match.index ?? 0) + (match[1]?.length ?? 0) + 1,
      ]);
      expect(readKeys(names, text)).toEqual(expected);
    }
  });

  it("rejects a key that only begins or ends like the guessed name, or is not a plain string", () => {
    readKeys(names, '{"event_id":0,"channel":0}');
    readKeys(names, '{"event_id":0,"channel":0}');
    for (const key of ['"channelx"', '"channe"', '"xchannel"', '"chan\\nel"', '"channel', "channel"]) {
      expect(readKeys(names, `{"event_id":0,${key}:0}`)).toEqual([
        [0, 10],
        [-1, -1],
      ]);
    }
    expect(readKeys(names, '{"event_id":0,"channel":0}')).toEqual([
      [0, 10],
      [1, 22],
    ]);
  });
});
