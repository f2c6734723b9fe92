// Builds the pages the API serves: exchange_api/wallet/src -> wallet/dist (at /wallet),
// exchange_api/console/src -> console/dist (at /console; it imports the wallet's i18n, format and api modules) and
// exchange_api/pos/src -> pos/dist (at /pos, the merchants' till; the same modules, and the wallet's QR encoder).
// Everything a page loads is bundled here from npm packages; nothing comes from another origin at run time.
// File names carry a content hash, so browsers may cache them forever; index.html is rewritten to point at them.
// A module a page imports dynamically (the camera's QR reader) is split into a file of its own beside them.
import * as esbuild from "esbuild";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const PAGES = [
  { name: "wallet", dir: here },
  { name: "console", dir: join(here, "..", "console") },
  { name: "pos", dir: join(here, "..", "pos") },
];

async function buildPage({ name, dir }) {
  const src = join(dir, "src");
  const out = join(dir, "dist");
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { app: join(src, "main.js"), style: join(src, "styles.css") },
    bundle: true,
    minify: true,
    format: "esm",
    target: ["chrome100", "safari15", "firefox100", "edge100"],
    entryNames: "[name]-[hash]",
    // a module imported only when needed (the wallet's QR reader, where the browser has no BarcodeDetector) is a
    // file of its own, fetched from this origin then
    splitting: true,
    chunkNames: "[name]-[hash]",
    outdir: out,
    metafile: true,
    legalComments: "eof",
    charset: "utf8",
    logLevel: "warning",
  });
  const built = {};
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    if (info.entryPoint) built[basename(info.entryPoint).split(".")[0]] = basename(file);
  }
  const html = (await readFile(join(src, "index.html"), "utf8"))
    .replace("{{APP}}", built.main)
    .replace("{{STYLE}}", built.styles);
  await writeFile(join(out, "index.html"), html);
  const sizes = Object.entries(result.metafile.outputs).map(([f, i]) => `${relative(dir, f)} ${(i.bytes / 1024).toFixed(0)} KiB`);
  console.log(`${name} built: ${sizes.join(", ")}`);
}

for (const p of PAGES) await buildPage(p);
