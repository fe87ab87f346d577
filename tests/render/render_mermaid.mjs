// Renders Mermaid blocks with the real Mermaid in headless Chromium.
// Usage: node render_mermaid.mjs BLOCKS.json RESULTS.json [SCREENSHOT_DIR]
// BLOCKS.json: [{"name": "...", "source": "flowchart LR ...", "theme": "default" | "dark"}]
// RESULTS.json: [{"name", "error": null | "...", "nodes": ["visible text", ...], "texts": [...],
//   "size": [width, height] of the diagram as drawn, "lines": [stroke colour of each chart
//   line], "xLabels": [{"text", "left", "right"}] of a chart's x-axis labels, and its
//   "chart": {"left", "right"} edges, and "scale": how much it was shrunk to fit a 700 px page}]
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
// a note page in Obsidian: the default readable line width is 700 px
await page.setContent("<html><body><div id=out style='width: 700px'></div></body></html>");
await page.addScriptTag({ path: mermaidPath });
const results = [];
for (const [index, block] of blocks.entries()) {
  const result = await page.evaluate(async (source, id, theme) => {
    mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme });
    const out = document.getElementById("out");
    out.innerHTML = "";
    try {
      const { svg } = await mermaid.render(id, source);
      out.innerHTML = svg;
      const drawn = out.querySelector("svg");
      const box = (element) => element.getBoundingClientRect();
      const nodes = [...out.querySelectorAll("g.node")].map((n) => n.textContent);
      const texts = [...out.querySelectorAll("text")].map((t) => t.textContent);
      const lines = [...out.querySelectorAll("g.plot path")].map((p) => p.getAttribute("stroke"));
      const xLabels = [...out.querySelectorAll("g.bottom-axis g.label text")].map((t) => ({
        text: t.textContent,
        left: box(t).left,
        right: box(t).right,
      }));
      const background = out.querySelector("rect.background");
      const chart = background ? { left: box(background).left, right: box(background).right } : null;
      const size = [Math.round(box(drawn).width), Math.round(box(drawn).height)];
      const scale = box(drawn).width / drawn.viewBox.baseVal.width; // < 1: shrunk to fit
      return { error: null, nodes, texts, size, scale, lines, xLabels, chart };
    } catch (e) {
      return { error: String(e && e.message ? e.message : e), nodes: [], texts: [] };
    }
  }, block.source, `m${index}`, block.theme || "default");
  results.push({ name: block.name, ...result });
  if (shotsDir && !result.error) {
    const element = await page.$("#out svg");
    if (element) await element.screenshot({ path: path.join(shotsDir, `${block.name}.png`) });
  }
}
await browser.close();
fs.writeFileSync(resultsFile, JSON.stringify(results, null, 2));
