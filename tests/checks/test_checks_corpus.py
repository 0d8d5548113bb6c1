"""Every rule against its annotated fixtures: positives and look-alike negatives."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.checks._corpus import cases, load, run


@pytest.mark.parametrize("path", cases(), ids=lambda p: p.stem)
def test_corpus_file_yields_exactly_the_annotated_findings(path: Path) -> None:
    case = load(path)
    found = sorted((f.line, f.code) for f in run(case))
    assert found == case.expected, "\n".join(
        f"{f.line}:{f.col} {f.code} {f.message}" for f in run(case)
    )


def test_every_rule_family_has_a_positive_in_the_corpus() -> None:
    from bastion.checks import BUILTIN_RULES

    annotated = {code for path in cases() for _, code in load(path).expected}
    walked = {r.code for r in BUILTIN_RULES if not r.code.startswith(("BAS903", "BAS904"))}
    assert walked <= annotated, f"no corpus positive for {sorted(walked - annotated)}"
