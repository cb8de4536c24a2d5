"""Build lead_scoring/README.rst from the readme/ fragments (OCA layout).

The fragments are the source; run this after editing them:
    python3 tools/gen_readme.py
"""

import ast
import re
from pathlib import Path

ADDON = Path(__file__).resolve().parent.parent / "lead_scoring"
SECTIONS = [
    ("DESCRIPTION.md", None),
    ("CONFIGURE.md", "Configuration"),
    ("USAGE.md", "Usage"),
    ("CONTRIBUTORS.md", "Contributors"),
]


def to_rst(markdown):
    """The few Markdown constructs the fragments use, as reStructuredText."""
    lines = []
    for line in markdown.splitlines():
        heading = re.match(r"^#{2,4} (.+)$", line)
        if heading:
            title = heading[1]
            lines += [title, "~" * len(title)]
            continue
        # `code` -> ``code`` (leave **bold** and *italic* as they are)
        lines.append(re.sub(r"(?<!`)`([^`]+)`(?!`)", r"``\1``", line))
    return "\n".join(lines).strip() + "\n"


def main():
    manifest = ast.literal_eval((ADDON / "__manifest__.py").read_text())
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
        if heading:
            parts += [heading, "=" * len(heading), ""]
        parts.append(to_rst((ADDON / "readme" / fragment).read_text()))
    maintainers = f"This module is maintained by {manifest['author']}."
    parts += ["Maintainers", "===========", "", maintainers, ""]
    (ADDON / "README.rst").write_text("\n".join(parts))


if __name__ == "__main__":
    main()
