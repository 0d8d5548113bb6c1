"""Third-party rules through the ``bastion.checks`` entry-point group, and rule metadata."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.checks import BUILTIN_RULES, ConfigError, all_rules, main
from bastion.checks._registry import validate_rule
from tests.checks.conftest import Write

PLUGIN = '''
import ast
from bastion.checks import Rule


class NoPrint(Rule):
    """print() in library code."""

    code = "ACM101"
    name = "no-print"
    summary = "print() in library code"
    explanation = "Use logging: print() output is lost in services."
    node_types = (ast.Call,)

    def visit(self, node):
        if self.ctx.resolve(node.func) == "print":
            self.report(node, "print() in library code: use logging")
'''


@pytest.fixture
def plugin_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    site = tmp_path / "site"
    (site / "acme_rules-1.0.dist-info").mkdir(parents=True)
    (site / "acme_rules.py").write_text(PLUGIN)
    (site / "acme_rules-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-rules\nVersion: 1.0\n"
    )
    (site / "acme_rules-1.0.dist-info" / "entry_points.txt").write_text(
        "[bastion.checks]\nno-print = acme_rules:NoPrint\n"
    )
    monkeypatch.syspath_prepend(str(site))
    all_rules.cache_clear()
    yield
    all_rules.cache_clear()


def test_entry_point_rule_runs_with_the_builtins(
    plugin_on_path: None, write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("app/a.py", "def f():\n    print('hi')\n")
    assert "ACM101" in all_rules()
    assert main(["app", "--format", "json"]) == 1
    [finding] = json.loads(capsys.readouterr().out)["findings"]
    assert (finding["code"], finding["rule"], finding["line"]) == ("ACM101", "no-print", 2)
    assert main(["--explain", "no-print"]) == 0
    assert "Use logging" in capsys.readouterr().out


def test_builtin_rules_have_unique_codes_and_valid_metadata() -> None:
    codes = [r.code for r in BUILTIN_RULES]
    assert len(codes) == len(set(codes))
    for rule in BUILTIN_RULES:
        assert validate_rule(rule) is rule
        assert rule.code.startswith("BAS")
        assert len(rule.code) == 6


def test_invalid_rule_is_rejected() -> None:
    class Bad(BUILTIN_RULES[0]):  # type: ignore[misc,valid-type]
        code = "bad"

    with pytest.raises(ConfigError, match="is not like"):
        validate_rule(Bad)
