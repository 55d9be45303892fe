"""Person names compared across data sets: `Colin_Powell`, `colin powell` and `COLIN-POWELL`
are one person, whatever separators or case a folder or a label map uses."""

from __future__ import annotations

import re


def person_key(name: str) -> str:
    """The name case-folded with every non-alphanumeric character dropped."""
    return re.sub(r"[\W_]+", "", name.casefold())
