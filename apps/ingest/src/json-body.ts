import { AppError } from "@sluice/http";

/**
 * A request body as read off the wire, not parsed yet: the service first lets the fast path read its
 * bytes (createFastEventReader), and parses it only when that path declines.
 */
export class JsonBody {
  constructor(
    readonly bytes: Buffer,
    /** Set when the fast lane's fast path already declined these bytes: the service parses them straight away. */
    readonly fastDeclined = false,
  ) {}

  /** The parsed JSON; 400 INVALID_JSON when the body is empty or malformed. */
  parse(): unknown {
    if (this.bytes.length === 0) throw new AppError("INVALID_JSON", "request body is empty");
    try {
      return JSON.parse(this.bytes.toString("utf8"));
    } catch (error) {
      throw new AppError("INVALID_JSON", `malformed JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
