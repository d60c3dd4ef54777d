import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { COLORS, crc32, encodePng, niceStep, renderChart } from "./chart";

/** Splits a PNG into its chunks, checking each chunk's CRC. */
function chunks(png: Buffer) {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const out: { type: string; data: Buffer }[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.subarray(at + 4, at + 8).toString("ascii");
    const data = png.subarray(at + 8, at + 8 + length);
    expect(png.readUInt32BE(at + 8 + length)).toBe(crc32(png.subarray(at + 4, at + 8 + length)));
    out.push({ type, data });
    at += 12 + length;
  }
  return out;
}

describe("PNG encoding", () => {
  it("computes the standard CRC-32", () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
  });

  it("writes IHDR, IDAT and IEND with RGB scanlines that decode back to the pixels", () => {
    const pixels = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]);
    const parts = chunks(encodePng(2, 2, pixels));
    expect(parts.map((p) => p.type)).toEqual(["IHDR", "IDAT", "IEND"]);
    const header = parts[0]?.data as Buffer;
    expect([header.readUInt32BE(0), header.readUInt32BE(4), header[8], header[9]]).toEqual([2, 2, 8, 2]);
    const raw = inflateSync(parts[1]?.data as Buffer);
    expect([...raw]).toEqual([0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 9, 9, 9]);
  });
});

describe("renderChart", () => {
  it("draws every panel into one image of the requested width, series in their colours", () => {
    const png = renderChart({
      title: "latency",
      xLabel: "seconds",
      width: 400,
      panelHeight: 200,
      panels: [
        { title: "p99", unit: "ms", series: [{ label: "p99", color: COLORS.red, values: [1, 5, null, 3] }] },
        { title: "rate", unit: "req/s", series: [{ label: "all", color: COLORS.green, values: [100, 100, 90, 100] }] },
      ],
    });
    const parts = chunks(png);
    const header = parts[0]?.data as Buffer;
    expect([header.readUInt32BE(0), header.readUInt32BE(4)]).toEqual([400, 50 + 2 * 200]);
    const raw = inflateSync(parts[1]?.data as Buffer);
    const has = (rgb: readonly number[]) => {
      for (let i = 1; i + 2 < raw.length; i += 3)
        if (raw[i] === rgb[0] && raw[i + 1] === rgb[1] && raw[i + 2] === rgb[2]) return true;
      return false;
    };
    expect(has(COLORS.red)).toBe(true);
    expect(has(COLORS.green)).toBe(true);
  });
});

describe("niceStep", () => {
  it("picks 1, 2 or 5 times a power of ten", () => {
    expect(niceStep(100)).toBe(20);
    expect(niceStep(7)).toBe(2);
    expect(niceStep(2300)).toBe(500);
    expect(niceStep(0)).toBe(1);
  });
});
