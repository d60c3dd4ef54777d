import { createServer } from "node:http";

// The ceiling: a bare node:http server that reads the body and answers 202 without any work.
const port = Number(process.argv[2] ?? 0);
const body = JSON.stringify({ status: "accepted", event_id: "00000000-0000-7000-8000-000000000000" });
const server = createServer((req, res) => {
  req.on("data", () => undefined);
  req.on("end", () => {
    res.writeHead(202, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
});
server.listen(port, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === "object" && address ? address.port : port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
