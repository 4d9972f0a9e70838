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


def test_rule_docs_name_only_code_that_exists():
    """Every ``losscheck.a.b.c`` a rule's documentation names resolves to a module or an attribute,
    so a measurement moved to another module cannot leave its rule page pointing at the old place."""
    import importlib
    import re

    for r in all_rules():
        text = " ".join([r.summary, r.what, r.why, r.fix, r.how, r.example])
        refs = re.findall(r"losscheck(?:\.\w+)+", text)
        for ref in refs:
            parts = ref.split(".")
            for i in range(len(parts), 0, -1):
                try:
                    obj = importlib.import_module(".".join(parts[:i]))
                    break
                except ImportError:
                    continue
            for attr in parts[i:]:
                assert hasattr(obj, attr), (r.code, ref)
                obj = getattr(obj, attr)
