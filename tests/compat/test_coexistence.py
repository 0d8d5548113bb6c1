"""Bastion's pytest plugin beside pytest-asyncio (strict, auto) and anyio, in a user project.

Each test copies some of ``project/cases_*.py`` into a fresh ``pytester`` directory and
runs pytest there in-process, with the other plugins loaded or blocked (``-p no:...``)
and their modes set by ``-o``: the matrix of issue 14 in a few seconds.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("pytest_asyncio")
pytest.importorskip("anyio")

PROJECT = Path(__file__).parent / "project"
DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
# in-process runs stay fast without the cache and hypothesis's plugin (which would import
# hypothesis afresh in every run: pytester restores sys.modules after each)
FAST = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
NO_ASYNCIO = ("-p", "no:asyncio")
NO_ANYIO = ("-p", "no:anyio")
BASTION_TESTS = ("RUNNER by_fixture VirtualTimeLoop", "RUNNER by_marker VirtualTimeLoop")


@pytest.fixture(autouse=True)
def _inner_runs_on_virtual_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inner tests assert virtual readings whatever clock the outer run uses."""
    monkeypatch.setenv("BASTION_REAL_TIME", "0")


def run_project(pytester: pytest.Pytester, cases: list[str], *args: str) -> pytest.RunResult:
    """Copy ``cases`` (and the project's conftest) into pytester's dir and run pytest."""
    shutil.copy(PROJECT / "conftest.py", pytester.path / "conftest.py")
    for case in cases:
        shutil.copy(PROJECT / f"cases_{case}.py", pytester.path / f"test_{case}.py")
    if "no:asyncio" not in args:  # pytest-asyncio warns when this is unset
        args = ("-o", "asyncio_default_fixture_loop_scope=function", *args)
    return pytester.runpytest_inprocess(*FAST, "-s", "-rA", *args)


def runners(result: pytest.RunResult) -> set[str]:
    """The ``RUNNER <test> <loop>`` lines the inner tests printed."""
    return {" ".join(m) for m in re.findall(r"(RUNNER) (\w+) (\w+)", result.stdout.str())}


def test_bastion_alone_owns_every_async_test(pytester: pytest.Pytester) -> None:
    result = run_project(pytester, ["bastion", "unmarked"], *NO_ASYNCIO, *NO_ANYIO)
    result.assert_outcomes(passed=4)
    assert runners(result) == {
        *BASTION_TESTS,
        "RUNNER async_fixtures VirtualTimeLoop",
        "RUNNER unmarked VirtualTimeLoop",
    }
    result.stdout.fnmatch_lines(["bastion: mode=auto (no other async test plugin loaded)*"])


def test_pytest_asyncio_strict(pytester: pytest.Pytester) -> None:
    result = run_project(
        pytester,
        ["bastion", "asyncio", "unmarked", "conflicts"],
        *NO_ANYIO,
        "-o",
        "asyncio_mode=strict",
    )
    # unmarked: nobody's test in strict mode (pytest says so); both conflicts: errors
    result.assert_outcomes(passed=5, failed=1, errors=2)
    assert runners(result) == {
        *BASTION_TESTS,
        "RUNNER async_fixtures VirtualTimeLoop",
        "RUNNER bastion_with_pytest_asyncio_fixture VirtualTimeLoop",
        "RUNNER marked_asyncio _UnixSelectorEventLoop",
    }
    result.stdout.fnmatch_lines_random(
        [
            "bastion: mode=strict (pytest-asyncio loaded; set bastion_mode to choose)*",
            "async def functions are not natively supported.",
            "*test_asyncio_mark_with_rt uses Bastion (fixtures ?'rt'?) but pytest-asyncio "
            "runs it (@pytest.mark.asyncio)*remove @pytest.mark.asyncio so Bastion runs it*",
        ]
    )


def test_pytest_asyncio_auto(pytester: pytest.Pytester) -> None:
    result = run_project(
        pytester, ["bastion", "asyncio", "unmarked"], *NO_ANYIO, "-o", "asyncio_mode=auto"
    )
    result.assert_outcomes(passed=6)
    assert runners(result) == {
        *BASTION_TESTS,
        "RUNNER async_fixtures VirtualTimeLoop",
        "RUNNER bastion_with_pytest_asyncio_fixture VirtualTimeLoop",
        "RUNNER marked_asyncio _UnixSelectorEventLoop",
        "RUNNER unmarked _UnixSelectorEventLoop",  # pytest-asyncio's auto mode takes it
    }


def test_anyio_plugin(pytester: pytest.Pytester) -> None:
    result = run_project(pytester, ["bastion", "anyio", "unmarked", "conflicts"], *NO_ASYNCIO)
    # anyio's strict mode claims only its marked tests: Bastion keeps the unmarked one
    result.assert_outcomes(passed=5, errors=2)
    assert runners(result) == {
        *BASTION_TESTS,
        "RUNNER async_fixtures VirtualTimeLoop",
        "RUNNER marked_anyio _UnixSelectorEventLoop",
        "RUNNER unmarked VirtualTimeLoop",
    }
    result.stdout.fnmatch_lines(
        ["*test_anyio_mark_with_clock uses Bastion (fixtures ?'clock'?) but anyio runs it*"]
    )


def test_anyio_auto_mode_claims_bastion_tests_with_a_clear_error(
    pytester: pytest.Pytester,
) -> None:
    result = run_project(pytester, ["bastion"], *NO_ASYNCIO, "-o", "anyio_mode=auto")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(
        [
            "bastion: mode=strict (anyio (anyio_mode = auto) loaded*",
            "*test_by_fixture uses Bastion (fixtures ?'rt'?) but anyio runs it (it requests "
            "anyio_backend*keep anyio_mode = strict*",
        ]
    )


def test_both_plugins_at_once(pytester: pytest.Pytester) -> None:
    result = run_project(pytester, ["bastion", "asyncio", "anyio", "conflicts"])
    result.assert_outcomes(passed=6, errors=2)
    assert runners(result) == {
        *BASTION_TESTS,
        "RUNNER async_fixtures VirtualTimeLoop",
        "RUNNER bastion_with_pytest_asyncio_fixture VirtualTimeLoop",
        "RUNNER marked_asyncio _UnixSelectorEventLoop",
        "RUNNER marked_anyio _UnixSelectorEventLoop",
    }


def test_bastion_mode_auto_takes_unmarked_tests_beside_pytest_asyncio(
    pytester: pytest.Pytester,
) -> None:
    result = run_project(pytester, ["asyncio", "unmarked"], "-o", "bastion_mode=auto")
    result.assert_outcomes(passed=3)
    assert "RUNNER unmarked VirtualTimeLoop" in runners(result)
    result.stdout.fnmatch_lines(["bastion: mode=auto (set by bastion_mode)*"])


def test_bastion_mode_strict_leaves_unmarked_tests_alone(pytester: pytest.Pytester) -> None:
    result = run_project(pytester, ["unmarked"], *NO_ASYNCIO, *NO_ANYIO, "--bastion-mode=strict")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*async def functions are not natively supported*"])


def test_an_unknown_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = run_project(pytester, ["unmarked"], "-o", "bastion_mode=everything")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*bastion_mode must be one of ('auto', 'strict')*everything*"])


def test_fixtures_bastion_cannot_serve_are_clear_errors(pytester: pytest.Pytester) -> None:
    result = run_project(pytester, ["fixture_errors"], *NO_ASYNCIO, *NO_ANYIO)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines_random(
        [
            "*sync fixture 'sync_on_async' depends on 'answer'*make 'sync_on_async' an "
            "`async def` fixture*",
            "*async fixture 'module_wide' has scope 'module'*",
        ]
    )


def test_the_docs_mixing_recipe_runs_with_both_plugins(pytester: pytest.Pytester) -> None:
    recipe = re.search(r"^```py\n(.*?)^```", DOC.read_text(), re.DOTALL | re.MULTILINE)
    assert recipe is not None, "docs/testing.md lost its ```py mixing recipe"
    pytester.makepyfile(test_recipe=recipe.group(1))
    result = pytester.runpytest_inprocess(
        *FAST, "-o", "asyncio_default_fixture_loop_scope=function", "-q"
    )
    result.assert_outcomes(passed=4)
