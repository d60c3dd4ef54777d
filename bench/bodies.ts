import type { Request } from "autocannon";

/** autocannon's `requests` option that POSTs the given bodies in turn, one per request. */
export function cycleBodies(bodies: readonly string[]): Request[] {
  let next = 0;
  return [
    {
      setupRequest: (request) => {
        next = (next + 1) % bodies.length;
        return { ...request, body: bodies[next] };
      },
    },
  ];
}
