"""Generated docs stay in sync with the code."""

from pathlib import Path

from losscheck.rules import all_rules
from losscheck.rules.docs import catalogue_markdown, rule_markdown

REPO = Path(__file__).resolve().parents[1]


def test_docs_rules_md_is_up_to_date():
    current = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    assert current == catalogue_markdown(), (
        "docs/rules.md is stale: run `python -m losscheck.rules.docs > docs/rules.md`")


def test_every_rule_page_has_its_sections():
    for r in all_rules():
        page = rule_markdown(r)
        for section in ("What it detects", "Why it matters", "What to do", "How it is computed", "Sources"):
            assert section in page, (r.code, section)
