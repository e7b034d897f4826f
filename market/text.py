"""The one rule for characters a person's text may hold, used by forms, the API contract, the
listing checks, the import and the request guard alike.

Free text (a note, an address) may hold tabs and line breaks; a line (a name, a code, a
reference) holds no line breaks either. Neither holds another control character (PostgreSQL
refuses NUL, no one types the others) or a lone surrogate (possible in JSON as "\\ud800",
never storable as UTF-8)."""

from __future__ import annotations

import re

_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"  # control characters other than \t \n \r
_LINE_CONTROL = r"\x00-\x1f\x7f"  # every control character

# The same rules as patterns for declared schemas (pydantic), whose strings are valid UTF-8.
TEXT_PATTERN = rf"^[^{_CONTROL}]*$"
LINE_PATTERN = rf"^[^{_LINE_CONTROL}]*$"

CONTROL = re.compile(rf"[{_CONTROL}\ud800-\udfff]")
LINE_CONTROL = re.compile(rf"[{_LINE_CONTROL}\ud800-\udfff]")


def has_control_characters(text: str, *, line: bool = False) -> bool:
    """Whether ``text`` breaks the rule (``line``: no line breaks or tabs either)."""
    return (LINE_CONTROL if line else CONTROL).search(text) is not None
