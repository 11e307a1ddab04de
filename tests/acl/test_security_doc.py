"""docs/security.md shows the services' grants exactly as the code makes the broker enforce them."""

from __future__ import annotations

import re
from pathlib import Path

from bus.acl.render import markdown_matrix
from bus.acl.rules import rules_for

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
SECTION = re.compile(r"<!-- service-matrix:start -->\n(.*)<!-- service-matrix:end -->", re.DOTALL)


def test_the_documented_service_matrix_is_the_enforced_one() -> None:
    # given the services' rules (no agreements: the agencies' rows follow the agreements)
    expected = markdown_matrix(rules_for([]))
    # when the table in docs/security.md is read
    found = SECTION.search(DOC.read_text(encoding="utf-8"))
    # then it is the same table
    assert found is not None, "docs/security.md lost its service-matrix markers"
    assert found.group(1) == expected, f"replace the table in docs/security.md with:\n{expected}"
