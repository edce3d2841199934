#!/usr/bin/env node
// npm run check:report — outside CI: renders a real `--report` page in headless Chromium and checks
// that the screenshot is not blank (enough non-white pixels, many colours, the quadrant colours of the
// scatter points present). Needs the build (npm run build) and Debian's chromium; when
// /usr/bin/chromium is missing and we are root, installs it with apt-get.
//
//   node scripts/check-report.mjs [--model DIR] [--out DIR]
// Prints the report and PNG paths; exits 1 when the page renders blank or Chromium fails.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import zlib from "node:zlib";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const fixture = path.resolve(ROOT, "../shared/fixtures/stories260k");
const model = flag("--model") ?? (existsSync(fixture) ? fixture : path.join(ROOT, "models", "tiny-stdlib-llama"));
const out = path.resolve(flag("--out") ?? mkdtempSync(path.join(os.tmpdir(), "entropix-check-report-")));
mkdirSync(out, { recursive: true });

function fail(message) {
  console.error(`check:report: ${message}`);
  process.exit(1);
}

// 1. A report of a real run: entropix vs greedy, side by side.
const report = path.join(out, "report.html");
const gen = spawnSync(
  process.execPath,
  [path.join(ROOT, "bin", "entropix"), "generate", "-m", model, "Once upon a time", "-n", "80", "--seed", "3", "--ignore-eos", "--compare", "greedy", "--report", report],
  { encoding: "utf8", env: { ...process.env, ENTROPIX_CACHE_DIR: path.join(out, "cache"), NO_COLOR: "1" }, timeout: 120_000 },
);
if (gen.status !== 0 || !existsSync(report)) fail(`generate --report failed (${gen.status}): ${gen.stderr.trim().split("\n").at(-1)}`);

// 2. Chromium, installed on demand (Debian package).
const candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
let chromium = candidates.find((c) => existsSync(c));
if (!chromium && process.getuid?.() === 0 && existsSync("/usr/bin/apt-get")) {
  console.error("check:report: installing chromium with apt-get…");
  const r = spawnSync("apt-get", ["install", "-y", "chromium"], { stdio: ["ignore", "ignore", "inherit"], timeout: 600_000 });
  if (r.status !== 0) fail("apt-get install -y chromium failed");
  chromium = candidates.find((c) => existsSync(c));
}
if (!chromium) fail("no chromium found (install it: apt-get install -y chromium)");

// 3. Screenshot, with everything that could reach the network switched off.
const png = path.join(out, "report.png");
const shot = spawnSync(
  chromium,
  [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    `--user-data-dir=${path.join(out, "chromium-profile")}`,
    `--screenshot=${png}`,
    "--window-size=1400,1000",
    pathToFileURL(report).href,
  ],
  { encoding: "utf8", timeout: 120_000 },
);
if (!existsSync(png)) fail(`chromium wrote no screenshot (${shot.status}): ${(shot.stderr ?? "").trim().split("\n").at(-1)}`);

// 4. Decode the PNG (8-bit RGB/RGBA, non-interlaced: what Chromium writes) and look at the pixels.
function decodePng(buf) {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error("not a PNG");
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString("latin1", pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8];
      const colorType = data[9];
      if (depth !== 8 || (colorType !== 2 && colorType !== 6) || data[12] !== 0) throw new Error(`unsupported PNG (depth ${depth}, colour type ${colorType})`);
      channels = colorType === 6 ? 4 : 3;
    } else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") break;
    pos += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
      let v = line[x];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      pixels[y * stride + x] = v & 255;
    }
  }
  return { width, height, channels, pixels };
}

const img = decodePng(readFileSync(png));
const colours = new Set();
let nonWhite = 0;
const total = img.width * img.height;
const quadrantRgb = { confident: [0x2e, 0x9d, 0x4f], explore: [0xc9, 0x8f, 0x00], adaptive: [0x1a, 0x94, 0xb0], resample: [0xd6, 0x3a, 0x3a], clarify: [0xb0, 0x3f, 0xb5] };
const seen = Object.fromEntries(Object.keys(quadrantRgb).map((q) => [q, 0]));
for (let i = 0; i < total; i++) {
  const o = i * img.channels;
  const r = img.pixels[o];
  const g = img.pixels[o + 1];
  const b = img.pixels[o + 2];
  if (r < 235 || g < 235 || b < 235) nonWhite++;
  colours.add((r << 16) | (g << 8) | b);
  for (const [q, [qr, qg, qb]] of Object.entries(quadrantRgb)) {
    if (Math.abs(r - qr) + Math.abs(g - qg) + Math.abs(b - qb) < 24) seen[q]++;
  }
}
const share = nonWhite / total;
const found = Object.entries(seen).filter(([, n]) => n > 20).map(([q]) => q);
console.log(`report:     ${report}`);
console.log(`screenshot: ${png} (${img.width}×${img.height}, ${(statSync(png).size / 1024).toFixed(0)} KiB, ${colours.size} colours, ${(share * 100).toFixed(1)}% non-white; quadrant colours seen: ${found.join(", ") || "none"})`);
if (img.width < 1000 || img.height < 700) fail("screenshot is smaller than the window asked for");
if (share < 0.05 || colours.size < 50) fail("the page rendered (nearly) blank");
if (found.length < 2) fail("the quadrant colours of the points and text are missing");
console.log("check:report: ok");
