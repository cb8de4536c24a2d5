"""Checks the addons' XML files: well-formed, and free of view idioms Odoo 18 refuses.

Odoo 17 replaced the ``attrs`` and ``states`` attributes by plain expressions in
``invisible`` / ``readonly`` / ``required``, and Odoo 18 renamed ``<tree>`` to
``<list>``: views that still use them fail to load, often only when opened.

Usage: python3 tools/check_xml.py [FILE ...]
Without files, checks every *.xml of every addon (a top-level directory with a
__manifest__.py); given files outside the addons are ignored.
Prints one line per problem and exits non-zero if there is any.
"""

import sys
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
REMOVED_ATTRIBUTES = {
    "attrs": "attrs= was removed in Odoo 17: use invisible/readonly/required expressions",
    "states": "states= was removed in Odoo 17: use an invisible expression on state",
}


def addon_directories():
    return sorted(manifest.parent for manifest in ROOT.glob("*/__manifest__.py"))


def problems(path):
    try:
        document = etree.parse(str(path))
    except etree.XMLSyntaxError as error:
        yield error.lineno, error.msg
        return
    for element in document.iter(etree.Element):  # elements only, not comments
        if element.tag == "tree":
            yield element.sourceline, "<tree> is <list> in Odoo 18"
        for attribute in REMOVED_ATTRIBUTES.keys() & element.attrib.keys():
            yield element.sourceline, REMOVED_ATTRIBUTES[attribute]


def main(files):
    addons = addon_directories()
    if files:
        paths = [Path(file).resolve() for file in files]
        paths = [path for path in paths if any(path.is_relative_to(addon) for addon in addons)]
    else:
        paths = sorted(path for addon in addons for path in addon.rglob("*.xml"))
    failed = False
    for path in paths:
        for line, message in problems(path):
            print(f"{path.relative_to(ROOT)}:{line}: {message}")
            failed = True
    if not failed:
        print(f"check_xml: {len(paths)} XML file(s) ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
