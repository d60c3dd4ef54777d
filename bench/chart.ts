// A dependency-free PNG line chart (RGB raster, 5×7 bitmap font, zlib from Node), so `make bench` needs
// neither a browser nor an image library to draw request latency over time.
import { deflateSync } from "node:zlib";

type Rgb = readonly [number, number, number];

export interface Series {
  label: string;
  color: Rgb;
  /** One value per x; null leaves a gap. */
  values: (number | null)[];
}

export interface Panel {
  title: string;
  unit: string;
  series: Series[];
}

export interface ChartSpec {
  title: string;
  /** Label of the x axis; x values are 0..n-1 with one step per second. */
  xLabel: string;
  panels: Panel[];
  width?: number;
  panelHeight?: number;
}

/** Colours the bench charts use. */
export const COLORS = {
  blue: [31, 119, 180],
  red: [214, 39, 40],
  green: [44, 160, 44],
  gray: [110, 110, 110],
  orange: [255, 127, 14],
} as const satisfies Record<string, Rgb>;

// 5×7 glyphs, row by row; lower case is drawn with the upper-case glyphs.
const GLYPHS: Record<string, string> = {
  A: "01110100011000111111100011000110001",
  B: "11110100011000111110100011000111110",
  C: "01110100011000010000100001000101110",
  D: "11110100011000110001100011000111110",
  E: "11111100001000011110100001000011111",
  F: "11111100001000011110100001000010000",
  G: "01110100011000010111100011000101111",
  H: "10001100011000111111100011000110001",
  I: "01110001000010000100001000010001110",
  J: "00111000100001000010000101001001100",
  K: "10001100101010011000101001001010001",
  L: "10000100001000010000100001000011111",
  M: "10001110111010110101100011000110001",
  N: "10001100011100110101100111000110001",
  O: "01110100011000110001100011000101110",
  P: "11110100011000111110100001000010000",
  Q: "01110100011000110001101011001001101",
  R: "11110100011000111110101001001010001",
  S: "01111100001000001110000010000111110",
  T: "11111001000010000100001000010000100",
  U: "10001100011000110001100011000101110",
  V: "10001100011000110001100010101000100",
  W: "10001100011000110101101011010101010",
  X: "10001100010101000100010101000110001",
  Y: "10001100011000101010001000010000100",
  Z: "11111000010001000100010001000011111",
  "0": "01110100011001110101110011000101110",
  "1": "00100011000010000100001000010001110",
  "2": "01110100010000100010001000100011111",
  "3": "11111000100010000010000011000101110",
  "4": "00010001100101010010111110001000010",
  "5": "11111100001111000001000011000101110",
  "6": "00110010001000011110100011000101110",
  "7": "11111000010001000100010000100001000",
  "8": "01110100011000101110100011000101110",
  "9": "01110100011000101111000010001001100",
  ".": "00000000000000000000000000110001100",
  ":": "00000011000110000000011000110000000",
  "/": "00000000010001000100010001000000000",
  "-": "00000000000000011111000000000000000",
  "(": "00010001000100001000010000010000010",
  ")": "01000001000001000010000100010001000",
  "%": "11000110010001000100010001001100011",
  ",": "00000000000000000000011000010001000",
  "=": "00000000001111100000111110000000000",
  " ": "00000000000000000000000000000000000",
};

class Canvas {
  readonly pixels: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.pixels = new Uint8Array(width * height * 3).fill(255);
  }

  set(x: number, y: number, color: Rgb): void {
    const px = Math.round(x);
    const py = Math.round(y);
    if (px < 0 || py < 0 || px >= this.width || py >= this.height) return;
    const at = (py * this.width + px) * 3;
    this.pixels[at] = color[0];
    this.pixels[at + 1] = color[1];
    this.pixels[at + 2] = color[2];
  }

  rect(x: number, y: number, w: number, h: number, color: Rgb): void {
    for (let dy = 0; dy < h; dy++) for (let dx = 0; dx < w; dx++) this.set(x + dx, y + dy, color);
  }

  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, thickness = 1): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let i = 0; i <= steps; i++) {
      const x = x0 + ((x1 - x0) * i) / steps;
      const y = y0 + ((y1 - y0) * i) / steps;
      this.rect(Math.round(x - (thickness - 1) / 2), Math.round(y - (thickness - 1) / 2), thickness, thickness, color);
    }
  }

  /** Draws text with its top-left corner at (x, y); `scale` pixels per font pixel. */
  text(x: number, y: number, value: string, color: Rgb, scale = 2): void {
    let cursor = x;
    for (const char of value.toUpperCase()) {
      const glyph = GLYPHS[char] ?? GLYPHS[" "] ?? "";
      for (let i = 0; i < glyph.length; i++) {
        if (glyph[i] === "1") this.rect(cursor + (i % 5) * scale, y + Math.floor(i / 5) * scale, scale, scale, color);
      }
      cursor += 6 * scale;
    }
  }
}

/** Width in pixels of `value` drawn by Canvas.text at `scale`. */
function textWidth(value: string, scale = 2): number {
  return value.length * 6 * scale;
}

/** A round step (1, 2 or 5 × 10^n) giving about `count` ticks up to `max`. */
export function niceStep(max: number, count = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].find((m) => m * power >= raw) ?? 10;
  return step * power;
}

function formatTick(value: number): string {
  if (value >= 10_000) return `${Math.round(value / 1000)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

const BLACK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];

function drawPanel(canvas: Canvas, panel: Panel, top: number, height: number, points: number, xLabel: string | null): void {
  const left = 90;
  const right = canvas.width - 30;
  const plotTop = top + 40;
  const plotBottom = top + height - (xLabel ? 55 : 30);
  const values = panel.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const step = niceStep(Math.max(1, ...values));
  const yMax = Math.max(step, Math.ceil(Math.max(1, ...values) / step) * step);
  const y = (value: number) => plotBottom - (value / yMax) * (plotBottom - plotTop);
  const x = (index: number) => left + (index / Math.max(1, points - 1)) * (right - left);

  canvas.text(left, top + 8, `${panel.title} (${panel.unit})`, BLACK, 2);
  let legendX = right;
  for (const series of [...panel.series].reverse()) {
    legendX -= textWidth(series.label) + 30;
    canvas.rect(legendX, top + 12, 18, 6, series.color);
    canvas.text(legendX + 24, top + 8, series.label, series.color, 2);
  }
  for (let tick = 0; tick <= yMax + step / 2; tick += step) {
    canvas.line(left, y(tick), right, y(tick), GRID);
    const label = formatTick(tick);
    canvas.text(left - 10 - textWidth(label), y(tick) - 7, label, BLACK, 2);
  }
  const xStep = niceStep(points - 1, 10);
  for (let tick = 0; tick < points; tick += xStep) {
    canvas.line(x(tick), plotBottom, x(tick), plotBottom + 5, BLACK);
    const label = String(tick);
    canvas.text(x(tick) - textWidth(label) / 2, plotBottom + 10, label, BLACK, 2);
  }
  canvas.line(left, plotTop, left, plotBottom, BLACK);
  canvas.line(left, plotBottom, right, plotBottom, BLACK);
  if (xLabel) canvas.text((left + right) / 2 - textWidth(xLabel) / 2, plotBottom + 32, xLabel, BLACK, 2);
  for (const series of panel.series) {
    let previous: [number, number] | null = null;
    series.values.forEach((value, index) => {
      if (value === null || !Number.isFinite(value)) {
        previous = null;
        return;
      }
      const point: [number, number] = [x(index), y(value)];
      if (previous) canvas.line(previous[0], previous[1], point[0], point[1], series.color, 2);
      else canvas.rect(point[0] - 1, point[1] - 1, 3, 3, series.color);
      previous = point;
    });
  }
}

/** Draws the panels stacked under one title and returns the PNG bytes. */
export function renderChart(spec: ChartSpec): Buffer {
  const width = spec.width ?? 1100;
  const panelHeight = spec.panelHeight ?? 300;
  const canvas = new Canvas(width, 50 + panelHeight * spec.panels.length);
  canvas.text(20, 16, spec.title, BLACK, 3);
  const points = Math.max(2, ...spec.panels.flatMap((p) => p.series.map((s) => s.values.length)));
  spec.panels.forEach((panel, i) => {
    const last = i === spec.panels.length - 1;
    drawPanel(canvas, panel, 50 + i * panelHeight, panelHeight, points, last ? spec.xLabel : null);
  });
  return encodePng(canvas.width, canvas.height, canvas.pixels);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 as PNG chunks use it. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

/** Encodes 8-bit RGB pixels (row-major, 3 bytes each) as a PNG. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let row = 0; row < height; row++) {
    // Each scanline starts with filter type 0 (none).
    raw.set(rgb.subarray(row * width * 3, (row + 1) * width * 3), row * (width * 3 + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", new Uint8Array(0)),
  ]);
}
