import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { clickhouseErrorCode } from "./client";
import { createJsonReader, parseJsonEachRow } from "./json-reader";

describe("parseJsonEachRow", () => {
  it("parses one object per line, with or without a final newline, and nothing from an empty body", () => {
    expect(parseJsonEachRow('{"a":"1"}\n{"a":"2","b":[1]}\n')).toEqual([{ a: "1" }, { a: "2", b: [1] }]);
    expect(parseJsonEachRow('{"a":1}')).toEqual([{ a: 1 }]);
    expect(parseJsonEachRow("")).toEqual([]);
  });

  it("throws the server's error text when an exception ends a 200 body", () => {
    const body = '{"a":1}\nCode: 241, e.displayText() = DB::Exception: Memory limit exceeded\n';
    expect(() => parseJsonEachRow(body)).toThrow(/^Code: 241, e.displayText/);
  });
});

describe("createJsonReader against a fake server", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  async function serve(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<string> {
    const created = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on("end", () => handler(req, body, res));
    });
    server = created;
    await new Promise<void>((resolve) => created.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(created.address() as AddressInfo).port}`;
  }

  const reader = (url: string, requestTimeoutMs = 5_000) =>
    createJsonReader({
      url,
      database: "db",
      username: "u",
      password: "p:w",
      requestTimeoutMs,
      maxOpenConnections: 2,
      settings: { date_time_input_format: "best_effort" },
    });

  it("posts the query with FORMAT JSONEachRow, the database, settings and credentials, and reuses one connection", async () => {
    const seen: { url: string | undefined; body: string; auth: string | undefined; port: number | undefined }[] = [];
    const url = await serve((req, body, res) => {
      seen.push({ url: req.url, body, auth: req.headers.authorization, port: req.socket.remotePort });
      res.end('{"x":"1"}\n');
    });
    const db = reader(url);
    expect(await db.read("SELECT 1 AS x")).toEqual([{ x: "1" }]);
    expect(await db.read("SELECT 2")).toEqual([{ x: "1" }]);
    db.close();
    expect(seen[0]?.url).toBe("/?database=db&date_time_input_format=best_effort");
    expect(seen[0]?.body).toBe("SELECT 1 AS x\nFORMAT JSONEachRow");
    expect(seen[0]?.auth).toBe(`Basic ${Buffer.from("u:p:w").toString("base64")}`);
    expect(seen[1]?.port).toBe(seen[0]?.port);
  });

  it("rejects a server error with its Code text, and a refused connection or a timeout without a code", async () => {
    const url = await serve((_req, body, res) => {
      if (body.startsWith("SLOW")) return;
      res.statusCode = 404;
      res.end("Code: 60, e.displayText() = DB::Exception: Table db.nope doesn't exist., e.what() = DB::Exception\n");
    });
    const db = reader(url, 200);
    const missing = await db.read("SELECT * FROM nope").catch((error: unknown) => error);
    expect(clickhouseErrorCode(missing)).toBe(60);
    const slow = await db.read("SLOW").catch((error: unknown) => error);
    expect(slow).toBeInstanceOf(Error);
    expect(clickhouseErrorCode(slow)).toBeUndefined();
    db.close();

    const stopped = new URL(url).port;
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
    const refused = await reader(`http://127.0.0.1:${stopped}`)
      .read("SELECT 1")
      .catch((error: unknown) => error);
    expect((refused as NodeJS.ErrnoException).code).toBe("ECONNREFUSED");
    expect(clickhouseErrorCode(refused)).toBeUndefined();
  });

  it("sends a query again once when the server had closed the kept-alive socket it went out on", async () => {
    let requests = 0;
    const url = await serve((req, _body, res) => {
      requests++;
      // The second request arrives on the kept-alive socket, which the server drops without answering.
      if (requests === 2) {
        req.socket.destroy();
        return;
      }
      res.end(`{"n":${requests}}\n`);
    });
    const db = reader(url);
    expect(await db.read("SELECT 1")).toEqual([{ n: 1 }]);
    expect(await db.read("SELECT 1")).toEqual([{ n: 3 }]);
    db.close();
  });
});
