#!/bin/sh
# Re-renders the demo catalog's pictures: Fluent Emoji SVG -> PNG (resvg) -> WebP (Pillow).
# Only needed to change them; the WebP files are committed. Run from anywhere:
#   sh dispatch/demo_pictures/render.sh [path/to/python]
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
node render.mjs
"${1:-python3}" - <<'PY'
from pathlib import Path

from PIL import Image

for png in sorted(Path("build").glob("*.png")):
    Image.open(png).save(png.with_suffix(".webp").name, "WEBP", quality=85, method=6)
PY
rm -r build
