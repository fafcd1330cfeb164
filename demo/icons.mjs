// @ts-check
// The demo's app icons as PNG, drawn from code at build time (no image tool needed):
// a blue tile with a white tray and an arrow leaving it — the same drawing as
// public/icon.svg. Browsers want PNG icons of 192 and 512 px to offer "Install".
import { deflateSync } from 'node:zlib';

/** @type {[number, number, number]} */
const BLUE = [31, 86, 199];

/** Shapes in a unit square, y downwards. Keep in step with public/icon.svg (viewBox 0 0 100 100). */
const box =
  (/** @type {number} */ x0, /** @type {number} */ y0, /** @type {number} */ x1, /** @type {number} */ y1) =>
  (/** @type {number} */ x, /** @type {number} */ y) =>
    x >= x0 && x <= x1 && y >= y0 && y <= y1;
const glyph = [
  box(0.27, 0.52, 0.34, 0.77), // tray, left side
  box(0.66, 0.52, 0.73, 0.77), // tray, right side
  box(0.27, 0.7, 0.73, 0.77), // tray, bottom
  box(0.465, 0.34, 0.535, 0.62), // arrow stem
  // arrow head: apex (0.5, 0.19), base at y = 0.38, half width 0.15
  (/** @type {number} */ x, /** @type {number} */ y) => y >= 0.19 && y <= 0.38 && Math.abs(x - 0.5) <= (0.15 * (y - 0.19)) / 0.19,
];

/**
 * @param {number} x @param {number} y @param {number} radius corner radius (0: full-bleed square)
 */
function inTile(x, y, radius) {
  const dx = Math.max(radius - x, x - (1 - radius), 0);
  const dy = Math.max(radius - y, y - (1 - radius), 0);
  return dx * dx + dy * dy <= radius * radius;
}

/**
 * RGBA pixels of the icon, 4×4 supersampled for smooth edges.
 * @param {number} size @param {{maskable?: boolean}} [options] maskable: full-bleed, glyph in the safe zone
 */
function pixels(size, { maskable = false } = {}) {
  const out = Buffer.alloc(size * size * 4);
  const n = 4;
  // A maskable icon may be cropped to a circle of 80% diameter: shrink the glyph into it.
  const scale = maskable ? 0.8 : 1;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let tile = 0;
      let mark = 0;
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const x = (px + (sx + 0.5) / n) / size;
          const y = (py + (sy + 0.5) / n) / size;
          if (!inTile(x, y, maskable ? 0 : 0.22)) continue;
          tile++;
          const gx = 0.5 + (x - 0.5) / scale;
          const gy = 0.5 + (y - 0.5) / scale;
          if (glyph.some((inside) => inside(gx, gy))) mark++;
        }
      }
      const i = (py * size + px) * 4;
      const a = mark / Math.max(tile, 1);
      // Blend the tile's blue with the glyph's white.
      for (const [c, blue] of BLUE.entries()) out[i + c] = Math.round(blue * (1 - a) + 255 * a);
      out[i + 3] = Math.round((255 * tile) / (n * n));
    }
  }
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, k) => {
  let c = k;
  for (let j = 0; j < 8; j++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** @param {Buffer} bytes */
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = /** @type {number} */ (CRC_TABLE[(c ^ b) & 0xff]) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** @param {string} type @param {Buffer} data */
function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * The icon as a PNG file.
 * @param {number} size @param {{maskable?: boolean}} [options]
 */
export function iconPng(size, options) {
  const rgba = pixels(size, options);
  const rows = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) rgba.copy(rows, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4); // filter 0 per row
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The files the demo links: name → PNG bytes. */
export function icons() {
  return {
    'icon-192.png': iconPng(192),
    'icon-512.png': iconPng(512),
    'icon-maskable-512.png': iconPng(512, { maskable: true }),
    'apple-touch-icon.png': iconPng(180, { maskable: true }),
  };
}
