"""Reads an Odoo test log and fails unless tests ran and all passed.

Prints one closing line "N passed, N failed" for CI. Any ERROR or CRITICAL
log line counts as a failure: Odoo logs failed tests and broken installs
that way, and it does not always exit non-zero for them.
"""

import re
import sys

RESULT = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests")
PROBLEM = re.compile(r"^\S+ \S+ \d+ (ERROR|CRITICAL) ")
# A skipped test proves nothing: missing browser or library must fail the run.
SKIPPED = re.compile(r" INFO \S+ odoo\.addons\.(test_)?lead_scoring\w*\.tests\.\S+: skipped ")


def main(path, require_lifecycle=False):
    failed = errors = total = 0
    lifecycle = None
    problems = []
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            match = RESULT.search(line)
            if match:
                failed += int(match[1])
                errors += int(match[2])
                total += int(match[3])
            if PROBLEM.match(line) or SKIPPED.search(line):
                problems.append(line.rstrip())
            if line.startswith("lifecycle passed"):
                lifecycle = True
            elif line.startswith("lifecycle FAILED"):
                lifecycle = False
    bad = failed + errors
    print()
    if problems:
        print(f"{len(problems)} error, critical or skipped-test log line(s):")
        for line in problems[:40]:
            print("  " + line[:300])
    if total == 0:
        print("No test ran: the addon's tests were not collected.")
        print("0 passed, 1 failed")
        return 1
    if problems and not bad:
        bad = 1  # an error logged outside any test still fails the run
    if require_lifecycle:
        # The install / upgrade / uninstall check counts as one more test.
        total += 1
        if not lifecycle:
            print("The lifecycle check failed or did not run.")
            bad += 1
    print(f"{max(total - bad, 0)} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--require-lifecycle" in sys.argv[2:]))
