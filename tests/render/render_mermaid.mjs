// Renders Mermaid blocks with the real Mermaid in headless Chromium.
// Usage: node render_mermaid.mjs BLOCKS.json RESULTS.json [SCREENSHOT_DIR]
// BLOCKS.json: [{"name": "...", "source": "flowchart LR ..."}]
// RESULTS.json: [{"name", "error": null | "...", "nodes": ["visible text", ...], "texts": [...]}]
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(process.env.VAULTKIT_RENDER_MODULES + "/");
const puppeteer = require("puppeteer-core");
const mermaidPath = require.resolve("mermaid/dist/mermaid.min.js");

const [blocksFile, resultsFile, shotsDir] = process.argv.slice(2);
const blocks = JSON.parse(fs.readFileSync(blocksFile, "utf8"));
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
const page = await browser.newPage();
await page.setViewport({ width: 1000, height: 800 });
await page.setContent("<html><body><div id=out></div></body></html>");
await page.addScriptTag({ path: mermaidPath });
await page.evaluate(() => mermaid.initialize({ startOnLoad: false, securityLevel: "strict" }));
const results = [];
for (const [index, block] of blocks.entries()) {
  const result = await page.evaluate(async (source, id) => {
    const out = document.getElementById("out");
    out.innerHTML = "";
    try {
      const { svg } = await mermaid.render(id, source);
      out.innerHTML = svg;
      const nodes = [...out.querySelectorAll("g.node")].map((n) => n.textContent.trim());
      const texts = [...out.querySelectorAll("text")].map((t) => t.textContent);
      return { error: null, nodes, texts };
    } catch (e) {
      return { error: String(e && e.message ? e.message : e), nodes: [], texts: [] };
    }
  }, block.source, `m${index}`);
  results.push({ name: block.name, ...result });
  if (shotsDir && !result.error) {
    const element = await page.$("#out svg");
    if (element) await element.screenshot({ path: path.join(shotsDir, `${block.name}.png`) });
  }
}
await browser.close();
fs.writeFileSync(resultsFile, JSON.stringify(results, null, 2));
