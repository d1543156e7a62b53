// Renders the seeded products' pictures from the Fluent Emoji set (MIT, Microsoft):
// one PNG per emoji named in pictures.json, SIZE px square, transparent background.
// Run by render.sh, only to change the pictures.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Resvg } from "@resvg/resvg-js";

const SIZE = 320;
const set = JSON.parse(readFileSync(new URL("node_modules/@iconify-json/fluent-emoji/icons.json", import.meta.url)));
const names = new Set(Object.values(JSON.parse(readFileSync(new URL("pictures.json", import.meta.url)))));
mkdirSync(new URL("build", import.meta.url), { recursive: true });
for (const name of names) {
  const icon = set.icons[name];
  if (!icon) throw new Error(`no icon ${name} in fluent-emoji`);
  const width = icon.width ?? set.width;
  const height = icon.height ?? set.height;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}">${icon.body}</svg>`;
  const png = new Resvg(svg, { fitTo: { mode: "width", value: SIZE } }).render().asPng();
  writeFileSync(new URL(`build/${name}.png`, import.meta.url), png);
}
console.log(`${names.size} pictures`);
