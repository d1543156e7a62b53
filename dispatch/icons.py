"""Draws the board's app icons (static/icons/), as committed: ``python -m dispatch.icons``.

Pillow (a dev requirement) draws a lightning bolt, the brand's mark, on the brand green.
"any" icons fill the square with rounded corners; "maskable" ones keep the bolt inside
the central 80% safe zone on a full-bleed square, so a launcher may crop them to a circle.
"""

from pathlib import Path

BRAND = "#0b7a4b"
SIZES = (192, 512)
ICONS_DIR = Path(__file__).resolve().parent.parent / "static" / "icons"
# The bolt, on a 100 x 100 grid.
BOLT = [(58, 6), (22, 56), (46, 56), (38, 94), (78, 40), (53, 40), (62, 6)]


def draw(size: int, *, maskable: bool):
    from PIL import Image, ImageDraw

    scale = 4  # drawn large, then scaled down: smooth edges
    big = size * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    if maskable:
        pen.rectangle((0, 0, big, big), fill=BRAND)
        inset, span = big * 0.2, big * 0.6
    else:
        pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=BRAND)
        inset, span = big * 0.12, big * 0.76
    pen.polygon([(inset + x * span / 100, inset + y * span / 100) for x, y in BOLT], fill="#ffd43b")
    return image.resize((size, size), Image.Resampling.LANCZOS)


def icon_files():
    """[(file name, size, purpose)] that the manifest lists."""
    return [(f"board-{size}.png", size, "any") for size in SIZES] + [
        (f"board-maskable-{size}.png", size, "maskable") for size in SIZES
    ]


def main() -> None:
    ICONS_DIR.mkdir(parents=True, exist_ok=True)
    for name, size, purpose in icon_files():
        draw(size, maskable=purpose == "maskable").save(ICONS_DIR / name, optimize=True)
        print(f"wrote static/icons/{name}")


if __name__ == "__main__":
    main()
