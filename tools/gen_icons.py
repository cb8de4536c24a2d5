"""Draw each addon's Apps-screen icon, static/description/icon.png (128x128).

One family: a rounded tile in the addon's colour with a white score gauge
(an arc filled to a level, its needle) above three rising bars.
    python3 tools/gen_icons.py [ADDON ...]     (default: every addon)
"""

import math
import sys
import zlib
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
# Addon: (tile colour, gauge level in [0, 1]).
ICONS = {
    "lead_scoring": ("#875A7B", 0.72),  # Odoo's purple: the core
    "lead_scoring_mass_mailing": ("#E46F4E", 0.55),  # Email Marketing's orange
    "lead_scoring_website": ("#2E9ABF", 0.62),  # Website's blue
    "lead_scoring_queue_job": ("#3F8F5B", 0.85),  # green: jobs
    "test_lead_scoring": ("#6B7280", 0.40),  # grey: tests only
    "lead_scoring_event": ("#D9A521", 0.66),  # amber: Events
    "lead_scoring_survey": ("#C2185B", 0.48),  # rose: Surveys
}
# An addon not listed above: a colour of this palette, chosen by its name.
PALETTE = ["#5C6BC0", "#00897B", "#8D6E63", "#F4511E", "#546E7A", "#7CB342"]
SIZE, SCALE = 128, 4  # drawn 4x larger, then downsampled (anti-aliasing)


def draw(colour, level):
    s = SIZE * SCALE
    image = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((0, 0, s - 1, s - 1), radius=22 * SCALE, fill=colour)
    white, faded = (255, 255, 255, 255), (255, 255, 255, 90)
    # The gauge: a half ring from 180 to 360 degrees, filled to the level.
    box = (22 * SCALE, 18 * SCALE, 106 * SCALE, 102 * SCALE)
    width = 11 * SCALE
    pen.arc(box, 180, 360, fill=faded, width=width)
    pen.arc(box, 180, 180 + 180 * level, fill=white, width=width)
    # The needle from the centre to the level.
    cx, cy = 64 * SCALE, 60 * SCALE
    angle = math.radians(180 + 180 * level)
    length = 30 * SCALE
    tip = (cx + length * math.cos(angle), cy + length * math.sin(angle))
    pen.line((cx, cy, *tip), fill=white, width=5 * SCALE)
    pen.ellipse((cx - 7 * SCALE, cy - 7 * SCALE, cx + 7 * SCALE, cy + 7 * SCALE), fill=white)
    # Three rising bars below.
    for i, height in enumerate((12, 20, 28)):
        x = (40 + i * 18) * SCALE
        pen.rounded_rectangle(
            (x, (108 - height) * SCALE, x + 12 * SCALE, 108 * SCALE),
            radius=3 * SCALE,
            fill=white if i < 2 or level > 0.5 else faded,
        )
    return image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def main(addons):
    for addon in addons:
        fallback = (PALETTE[zlib.crc32(addon.encode()) % len(PALETTE)], 0.6)
        colour, level = ICONS.get(addon, fallback)
        path = REPO / addon / "static" / "description" / "icon.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        draw(colour, level).save(path, optimize=True)
        print(f"{path.relative_to(REPO)}")


if __name__ == "__main__":
    main(sys.argv[1:] or sorted(p.parent.name for p in REPO.glob("*/__manifest__.py")))
