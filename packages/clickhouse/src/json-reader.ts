import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** Runs SELECTs over keep-alive HTTP and parses their JSONEachRow rows. */
export interface JsonReader {
  /** The rows of one SELECT (its text without a FORMAT clause), as plain objects. */
  read<T>(query: string): Promise<T[]>;
  close(): void;
}

export interface JsonReaderSettings {
  url: string;
  database: string;
  username: string;
  password: string;
  requestTimeoutMs: number;
  maxOpenConnections: number;
  /** Extra URL settings sent with every query (18.16 rejects any it does not know). */
  settings?: Record<string, string>;
}

/** Idle sockets close before this; lowered to a second under the server's own keep-alive hint when it sends one. */
const IDLE_SOCKET_MS = 2_500;

/**
 * A reader posting each SELECT on a keep-alive connection and parsing the whole body at once: the same rows
 * as @clickhouse/client's JSONEachRow `json()`, without its per-query bookkeeping, which costs 2–3 ms a
 * query against tens of microseconds here (GET /metrics sends two small queries a request). Failures keep
 * the client's shapes: a server error's message is the server's `Code: N, …` text; a connection failure or a
 * timeout has no code.
 */
export function createJsonReader(settings: JsonReaderSettings): JsonReader {
  const url = new URL(settings.url);
  const secure = url.protocol === "https:";
  const agentOptions = { keepAlive: true, maxSockets: settings.maxOpenConnections, timeout: IDLE_SOCKET_MS };
  const agent = secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  const send = secure ? httpsRequest : httpRequest;
  const params = new URLSearchParams({ database: settings.database, ...settings.settings });
  const path = `${url.pathname.endsWith("/") ? url.pathname : `${url.pathname}/`}?${params}`;
  const authorization = `Basic ${Buffer.from(`${settings.username}:${settings.password}`).toString("base64")}`;

  function post(body: string, resent = false): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const request = send(
        {
          agent,
          protocol: url.protocol,
          hostname: url.hostname,
          port: url.port,
          method: "POST",
          path,
          headers: { authorization, "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) },
        },
        (response: IncomingMessage) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        },
      );
      request.setTimeout(settings.requestTimeoutMs, () => request.destroy(new Error("Timeout error.")));
      request.on("error", (error: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed as it was reused: nothing was read, and a SELECT can be sent once more.
        if (!resent && request.reusedSocket && (error.code === "ECONNRESET" || error.code === "EPIPE")) {
          post(body, true).then(resolve, reject);
          return;
        }
        reject(error);
      });
      request.end(body);
    });
  }

  return {
    async read<T>(query: string): Promise<T[]> {
      const { status, text } = await post(`${query}\nFORMAT JSONEachRow`);
      if (status !== 200) throw new Error(text.trim() || `ClickHouse answered HTTP ${status}`);
      return parseJsonEachRow<T>(text);
    },
    close: () => agent.destroy(),
  };
}

/**
 * The rows of a JSONEachRow body. A server error after the first rows arrives inside a 200 body as its
 * `Code: N, …` text, which is what the thrown error then carries.
 */
export function parseJsonEachRow<T>(text: string): T[] {
  const rows: T[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    if (end > start) {
      const line = text.slice(start, end);
      try {
        rows.push(JSON.parse(line) as T);
      } catch {
        throw new Error(text.slice(start).trim());
      }
    }
    start = end + 1;
  }
  return rows;
}
