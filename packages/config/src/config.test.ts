import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, csv, flag, parseEnv, port } from "./index";

const schema = z.object({ SERVER_PORT: port(8080), KEYS: csv(), ENABLED: flag(false) });

describe("parseEnv", () => {
  it("applies defaults and parses lists and flags", () => {
    expect(parseEnv(schema, { KEYS: " a, ,b ", ENABLED: "yes" })).toEqual({ SERVER_PORT: 8080, KEYS: ["a", "b"], ENABLED: true });
  });

  it("names every bad variable", () => {
    try {
      parseEnv(schema, { SERVER_PORT: "99999", ENABLED: "maybe" });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues.map((i) => i.variable).sort()).toEqual(["ENABLED", "SERVER_PORT"]);
      expect((error as ConfigError).message).toContain("SERVER_PORT");
    }
  });
});
