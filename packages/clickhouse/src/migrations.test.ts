import { describe, expect, it } from "vitest";
import { splitStatements } from "./migrations";

describe("splitStatements", () => {
  it("splits on semicolons at line ends and drops comment lines", () => {
    const text = "-- header\nCREATE TABLE a (x UInt8)\nENGINE = Memory;\n\n-- next\nINSERT INTO a VALUES (1);\nSELECT 1";
    expect(splitStatements(text)).toEqual(["CREATE TABLE a (x UInt8)\nENGINE = Memory", "INSERT INTO a VALUES (1)", "SELECT 1"]);
  });

  it("keeps semicolons inside a line", () => {
    expect(splitStatements("SELECT ';' AS s;\n")).toEqual(["SELECT ';' AS s"]);
  });
});
