"""Template structure: what a browser tab shows is words, not markup."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(p for app in ("portal", "catalogue", "provisioning") for p in (ROOT / app / "templates").rglob("*.html"))
TITLE = re.compile(r"{%\s*block title\s*%}(.*?){%\s*endblock", re.S)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_title_block_is_one_line_of_words(path):
    for title in TITLE.findall(path.read_text(encoding="utf-8")):
        assert "<" not in title and "\n" not in title.strip(), f"{path.name}: the title block holds markup: {title[:80]!r}"
