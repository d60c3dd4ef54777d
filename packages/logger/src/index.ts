import { type Logger, type LoggerOptions, pino } from "pino";

export type { Logger } from "pino";

/** Paths that may carry credentials; pino replaces their values before anything is written. */
export const REDACTED_PATHS = [
  "req.headers.authorization",
  'req.headers["x-api-key"]',
  "headers.authorization",
  'headers["x-api-key"]',
  "authorization",
  "apiKey",
  "password",
  "*.password",
];

export interface LoggerSettings {
  name: string;
  level: string;
  pretty?: boolean;
}

/** Creates the app's pino logger: JSON to stdout, credentials redacted, pretty output only when asked. */
export function createLogger(settings: LoggerSettings, destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    name: settings.name,
    level: settings.level,
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    base: { app: settings.name },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (destination) return pino(options, destination);
  if (settings.pretty) {
    return pino({ ...options, transport: { target: "pino-pretty", options: { colorize: true, singleLine: true } } });
  }
  return pino(options);
}
