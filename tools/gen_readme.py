"""Build an addon's README.rst from its readme/ fragments (OCA layout), and
its Apps-screen page static/description/index.html from README.rst (with the
screenshots of static/description/), as oca-gen-addon-readme does.

The fragments are the source; run this after editing them:
    python3 tools/gen_readme.py [ADDON ...]     (default: lead_scoring)
    python3 tools/gen_readme.py --check ADDON ...   (CI: exit 1 if out of date)
Fragments an addon does not have are left out; an addon without readme/ keeps
its hand-written README.rst (only its index.html is generated).
"""

import ast
import re
import sys
from pathlib import Path

from docutils.core import publish_string

REPO = Path(__file__).resolve().parent.parent
SECTIONS = [
    ("DESCRIPTION.md", None),
    ("CONFIGURE.md", "Configuration"),
    ("USAGE.md", "Usage"),
    ("CONTRIBUTE.md", "Contributing"),
    ("CONTRIBUTORS.md", "Contributors"),
]


def to_rst(markdown):
    """The few Markdown constructs the fragments use, as reStructuredText."""
    lines = []
    in_code = False
    table = []
    for line in markdown.splitlines():
        if line.startswith("```"):
            # A fenced block becomes a literal block.
            lines += [""] if in_code else ["::", ""]
            in_code = not in_code
            continue
        if in_code:
            lines.append("    " + line)
            continue
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            lines += table_to_rst(table)
            table = []
        heading = re.match(r"^#{2,4} (.+)$", line)
        if heading:
            title = heading[1]
            lines += [title, "~" * len(title)]
            continue
        lines.append(inline_to_rst(line))
    lines += table_to_rst(table)
    return "\n".join(lines).strip() + "\n"


def inline_to_rst(text):
    # `code` -> ``code`` (leave **bold** and *italic* as they are)
    return re.sub(r"(?<!`)`([^`]+)`(?!`)", r"``\1``", text)


def table_to_rst(rows):
    """A Markdown table as a list-table (its second row is the separator)."""
    if not rows:
        return []
    cells = [[inline_to_rst(c.strip()) for c in row.strip().strip("|").split("|")] for row in rows]
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in cells[:1] + cells[2:]:
        out.append(f"   * - {row[0]}")
        out += [f"     - {cell}" for cell in row[1:]]
    return [*out, ""]


def build_rst(addon):
    """The README.rst of the addon's fragments."""
    manifest = ast.literal_eval((addon / "__manifest__.py").read_text())
    title = manifest["name"]
    parts = [
        "=" * len(title),
        title,
        "=" * len(title),
        "",
        f"|license| Odoo {manifest['version'][:4]}, version {manifest['version']}",
        "",
        ".. |license| image:: https://img.shields.io/badge/licence-"
        f"{manifest['license'].replace('-', '--')}-blue.png",
        f"    :alt: License: {manifest['license']}",
        "",
    ]
    for fragment, heading in SECTIONS:
        path = addon / "readme" / fragment
        if not path.exists():
            continue
        if heading:
            parts += [heading, "=" * len(heading), ""]
        parts.append(to_rst(path.read_text()))
    maintainers = f"This module is maintained by {manifest['author']}."
    parts += ["Maintainers", "===========", "", maintainers, ""]
    return "\n".join(parts)


def screenshots_rst(addon):
    """A Screenshots section of the images in static/description/ but the icon."""
    images = sorted(
        path for path in (addon / "static" / "description").glob("*.png") if path.name != "icon.png"
    )
    if not images:
        return ""
    parts = ["", "Screenshots", "===========", ""]
    for image in images:
        caption = image.stem.replace("_", " ").capitalize()
        parts += [f".. figure:: {image.name}", f"   :alt: {caption}", "", f"   {caption}", ""]
    return "\n".join(parts)


def build_html(addon, rst):
    """static/description/index.html: README.rst (and the screenshots) as HTML."""
    # The screenshots go before Maintainers, the README's last section.
    head, marker, tail = rst.rpartition("Maintainers\n===========")
    rst = head + screenshots_rst(addon) + "\n\n" + marker + tail if marker else rst
    html = publish_string(
        rst,
        writer_name="html4css1",
        settings_overrides={
            "_disable_config": True,
            "embed_stylesheet": True,
            "halt_level": 3,
            "output_encoding": "unicode",
            "doctitle_xform": True,
        },
    )
    # Without the generator line, the page does not depend on docutils' version;
    # without the XML declaration, Odoo (17+) reads it without a warning.
    html = re.sub(r'<meta name="generator"[^>]*>\n', "", html)
    return re.sub(r"\A<\?xml[^>]*>\n", "", html)


def outputs(addon):
    """{path: content} of the files generated for the addon."""
    result = {}
    if (addon / "readme").is_dir():
        rst = build_rst(addon)
        result[addon / "README.rst"] = rst
    else:
        rst = (addon / "README.rst").read_text()
    result[addon / "static" / "description" / "index.html"] = build_html(addon, rst)
    return result


def main(args):
    check = "--check" in args
    names = [arg for arg in args if arg != "--check"] or ["lead_scoring"]
    stale = []
    for name in names:
        for path, content in outputs(REPO / name).items():
            current = path.read_text() if path.exists() else None
            if current == content:
                continue
            if check:
                stale.append(str(path.relative_to(REPO)))
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
    if stale:
        print(
            f"Out of date: {', '.join(stale)}. Fix: python3 tools/gen_readme.py {' '.join(names)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
