"""The checker never crashes on valid Python, and imports nothing from the runtime."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.checks import all_rules, check_source

pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")

CHECKS = Path(__file__).resolve().parents[2] / "src" / "bastion" / "checks"
SAMPLES = sorted(Path(ast.__file__).parent.glob("asyncio/*.py"))[:25] + sorted(CHECKS.glob("*.py"))
RULES = list(all_rules().values())


def _check(source: str, *, is_test: bool = False) -> None:
    findings, _ = check_source(source, "fuzz.py", RULES, module="pkg.fuzz", is_test=is_test)
    for finding in findings:
        assert finding.line >= 1
        assert finding.col >= 1
        assert finding.code
        assert finding.rule


def _mutations(tree: ast.Module, rng: random.Random) -> ast.Module:
    """Shuffle, duplicate and nest statements of a real module: new, still-valid programs."""
    body = list(tree.body)
    rng.shuffle(body)
    if body:
        body.insert(rng.randrange(len(body)), body[rng.randrange(len(body))])
        inner = ast.AsyncFunctionDef(
            name="wrapped", args=ast.arguments([], [], None, [], [], None, []),
            body=body[: max(1, len(body) // 3)], decorator_list=[], returns=None,
            type_params=[],
        )  # fmt: skip
        cls = ast.ClassDef(name="Wrapped", bases=[], keywords=[], body=[inner],
                           decorator_list=[], type_params=[])  # fmt: skip
        body.append(cls)
    return ast.fix_missing_locations(ast.Module(body=body, type_ignores=[]))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_mutated_real_sources_never_crash_the_checker(path: Path) -> None:
    source = path.read_text()
    _check(source)
    rng = random.Random(path.name)
    tree = ast.parse(source)
    for round_ in range(3):
        _check(ast.unparse(_mutations(tree, rng)), is_test=bool(round_ % 2))


def test_unparseable_and_undecodable_sources_are_findings() -> None:
    for source in ["def f(:\n", b"\xff\xfe\x00garbage", "x = (" * 300 + ")" * 300]:
        findings, _ = check_source(source, "bad.py", RULES)
        assert [f.code for f in findings] == ["BAS000"]


try:
    import hypothesmith
except ImportError:  # optional: the mutation tests above and below still run
    hypothesmith = None


@pytest.mark.skipif(hypothesmith is None, reason="hypothesmith not installed")
def test_generated_programs_never_crash_the_checker() -> None:
    assert hypothesmith is not None

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(source=hypothesmith.from_grammar())
    def check(source: str) -> None:
        _check(source)
        _check(source, is_test=True)

    check()


@given(st.sampled_from(SAMPLES), st.integers(min_value=0, max_value=2**16))
@settings(max_examples=20, deadline=None)
def test_random_line_drops_are_parse_findings_or_clean_runs(path: Path, seed: int) -> None:
    lines = path.read_text().splitlines()
    rng = random.Random(seed)
    del lines[rng.randrange(len(lines))]
    _check("\n".join(lines))


def test_checker_imports_nothing_from_the_runtime() -> None:
    for module in CHECKS.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else ["bastion.checks"]
            for name in names:
                assert not name.startswith("bastion") or name.startswith("bastion.checks"), (
                    f"{module.name} imports {name}"
                )
                assert name.partition(".")[0] != "flake8" or module.name == "_flake8.py"
