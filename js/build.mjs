// Bundle each view into ../attnviz/static/<view>.js (ESM with anywidget's `export default { render }`) and copy the
// stylesheet. Deterministic output, so CI can rebuild and check the committed bundles are up to date.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "attnviz", "static");
const views = ["text_view", "image_view", "attention_view", "compare_view", "flow_view", "grid_view", "head_math_view"];
mkdirSync(out, { recursive: true });
await build({
  // entries/<view>.js re-export only the default `{ render }` (the view modules also export helpers for the tests)
  entryPoints: views.map((v) => join(here, "src", "entries", `${v}.js`)),
  outdir: out,
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
});
copyFileSync(join(here, "src", "style.css"), join(out, "attnviz.css"));
console.log(`built ${views.length} views into ${out}`);
