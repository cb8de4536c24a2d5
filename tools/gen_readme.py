"""Build an addon's README.rst from its readme/ fragments (OCA layout).

The fragments are the source; run this after editing them:
    python3 tools/gen_readme.py [ADDON ...]     (default: lead_scoring)
Fragments an addon does not have are left out.
"""

import ast
import re
import sys
from pathlib import Path

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


def build(addon):
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
    (addon / "README.rst").write_text("\n".join(parts))


if __name__ == "__main__":
    for name in sys.argv[1:] or ["lead_scoring"]:
        build(REPO / name)
