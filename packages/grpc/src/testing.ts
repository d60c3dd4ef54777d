import { ConnectError } from "@connectrpc/connect";

/** The ConnectError a call failed with, for tests that expect a failure; throws when the call succeeded. */
export async function callFailure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("the call succeeded");
}
