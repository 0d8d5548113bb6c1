"""Bad input to ``bastion check``: a clear finding or usage error, never a traceback."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.checks import _parse, all_rules, check_source, main
from tests.checks.conftest import Write

SPAWN = "import asyncio\n\n\nasync def go(c):\n    asyncio.create_task(c)\n"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _only_parse_error(out: str, path: str) -> str:
    lines = [line for line in out.splitlines() if line.startswith(f"{path}:")]
    assert len(lines) == 1, out
    assert " BAS000 parse-error " in lines[0]
    return lines[0]


def test_a_missing_path_is_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "nothere.py")
    assert out == ""
    assert code == 2
    assert err.strip() == "bastion check: error: nothere.py: no such file or directory"


def test_a_device_is_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, os.devnull)
    assert code == 2
    assert err.strip() == f"bastion check: error: {os.devnull}: not a regular file or directory"


def test_binary_data_is_a_parse_error_finding(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("bin.py", "").write_bytes(b"\x7fELF\x02\x01\x00\x00garbage\xff\xfe")
    code, out, _ = _run(capsys, "bin.py")
    assert code == 1
    assert "contains NUL bytes (binary data)" in _only_parse_error(out, "bin.py")


def test_latin1_bytes_without_a_declaration_say_how_to_fix_it(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("lat.py", "").write_bytes(b'# a comment\nname = "caf\xe9"\n')
    code, out, _ = _run(capsys, "lat.py")
    assert code == 1
    line = _only_parse_error(out, "lat.py")
    assert "cannot decode" in line
    assert "coding" in line


def test_latin1_with_a_declaration_and_a_utf8_bom_are_checked(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("lat.py", "").write_bytes(b"# -*- coding: latin-1 -*-\n" + SPAWN.encode() + b"#\xe9\n")
    write("bom.py", "").write_bytes(b"\xef\xbb\xbf" + SPAWN.encode())
    code, out, _ = _run(capsys, "lat.py", "bom.py")
    assert code == 1
    found = sorted(line.split()[0] for line in out.splitlines() if " BAS201 " in line)
    assert found == ["bom.py:5:5", "lat.py:6:5"]


def test_a_syntax_error_is_a_finding_at_its_line(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("syn.py", "x = 1\ndef f(:\n")
    code, out, _ = _run(capsys, "syn.py")
    assert code == 1
    assert _only_parse_error(out, "syn.py").startswith("syn.py:2:")


def test_an_expression_too_deep_for_the_parser_is_a_finding(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("deep.py", "x = " + "+".join(["1"] * 5000) + "\n")
    code, out, _ = _run(capsys, "deep.py")
    assert code == 1
    assert "too deeply nested" in _only_parse_error(out, "deep.py")


def test_a_file_symlink_loop_is_a_finding_not_a_crash(
    write: Write, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write("pkg/ok.py", "x = 1\n")
    (project / "pkg" / "a.py").symlink_to("b.py")
    (project / "pkg" / "b.py").symlink_to("a.py")
    code, out, err = _run(capsys, "pkg")
    assert code == 1, err
    assert "cannot read" in _only_parse_error(out, "pkg/a.py")
    assert "cannot read" in _only_parse_error(out, "pkg/b.py")


def test_an_unreadable_file_is_a_finding(
    write: Write, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = write("secret.py", "x = 1\n")
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == secret.name:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    code, out, _ = _run(capsys, "secret.py")
    assert code == 1
    assert "cannot read: Permission denied" in _only_parse_error(out, "secret.py")


def test_an_unreadable_directory_is_a_clear_error(
    write: Write, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write("locked/a.py", "x = 1\n")
    real = os.scandir

    def scandir(path: str | os.PathLike[str]) -> Iterator[os.DirEntry[str]]:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)  # type: ignore[return-value]

    monkeypatch.setattr(os, "scandir", scandir)
    code, _, err = _run(capsys, "locked")
    assert code == 2
    assert err.strip() == "bastion check: error: locked: cannot list directory: Permission denied"


@pytest.mark.parametrize("option", ["--select", "--ignore"])
def test_an_unknown_rule_in_select_or_ignore_is_a_usage_error(
    write: Write, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    write("mod.py", SPAWN)
    code, out, err = _run(capsys, "mod.py", option, "BAS2O1")
    assert code == 2
    assert out == ""
    assert "unknown rule code or name 'BAS2O1'" in err
    assert _run(capsys, "mod.py", option, "BAS2,catch-all")[0] in {0, 1}


def test_an_unknown_rule_in_the_configuration_is_a_usage_error(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("pyproject.toml", '[tool.bastion.check]\nignore = ["unsupervised-spwan"]\n')
    write("mod.py", SPAWN)
    code, _, err = _run(capsys, "mod.py")
    assert code == 2
    assert "unknown rule code or name 'unsupervised-spwan'" in err


def test_the_bastion_command_never_prints_a_traceback(write: Write, project: Path) -> None:
    write("deep.py", "x = " + "+".join(["1"] * 5000) + "\n")
    write("bin.py", "").write_bytes(b"\x00\x01\x02")
    done = subprocess.run(
        [sys.executable, "-m", "bastion", "check", "deep.py", "bin.py"],
        capture_output=True, text=True, timeout=120, check=False, cwd=project,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (1, "")
    assert "deep.py:1:1 BAS000 parse-error" in done.stdout
    assert "bin.py:1:1 BAS000 parse-error" in done.stdout


# -- big files: parsed in blocks of top-level statements ------------------------------

TRICKY = '''\
"""Module docstring
x = 1
"""
import asyncio


@decorator
def f():
    pass


@decorator(
    arg,
)
class C:
    text = """
not_code = 1
else:
"""


if x:
    y = 1
else:
    y = 2
try:
    pass
except ValueError:
    pass
finally:
    pass
total = 1 + \\
2
items = [
1,
2,
]
# a comment at column 0
async def go(c):
    asyncio.create_task(c)
'''


def _blocks(source: str, monkeypatch: pytest.MonkeyPatch, size: int) -> list[ast.Module]:
    monkeypatch.setattr(_parse, "BLOCK_CHARS", size)
    return list(_parse.parse_blocks(source, "big.py"))


@pytest.mark.parametrize("size", [1, 16, 64, 128])
def test_blocks_hold_exactly_the_statements_of_the_whole_file(
    monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    blocks = _blocks(TRICKY, monkeypatch, size)
    assert len(blocks) > 1
    joined = ast.Module(body=[s for b in blocks for s in b.body], type_ignores=[])
    whole = ast.parse(TRICKY)
    assert ast.dump(joined, include_attributes=True) == ast.dump(whole, include_attributes=True)


def test_a_syntax_error_in_a_late_block_has_the_line_of_the_whole_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_parse, "BLOCK_CHARS", 16)
    source = TRICKY + "def broken(:\n"
    findings, _ = check_source(source, "big.py", list(all_rules().values()))
    assert [(f.code, f.line) for f in findings] == [("BAS000", source.count("\n"))]


def test_a_big_file_gets_the_same_findings_as_a_small_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = list(all_rules().values())
    whole, lines = check_source(TRICKY * 3, "big.py", rules, module="big")
    monkeypatch.setattr(_parse, "BLOCK_CHARS", 32)
    blocked, blocked_lines = check_source(TRICKY * 3, "big.py", rules, module="big")
    assert [f.code for f in whole] == ["BAS201"] * 3
    assert blocked == whole
    assert blocked_lines == lines


MANAGED_THEN_LEAKY = """\
import bastion


class Managed(bastion.Actor):
    def watch(self, ref):
        with self.monitor(ref) as m:
            return m


class Leaky(bastion.Actor):
    def watch(self, ref):
        handle = self.monitor(ref)
        return handle
"""


def test_blocks_freed_during_the_walk_do_not_confuse_rules_keyed_by_node_identity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each class is its own block; a freed block's node ids are reused by later blocks.
    source = MANAGED_THEN_LEAKY + "".join(
        MANAGED_THEN_LEAKY.replace("import bastion\n", "").replace("Leaky", f"Leaky{i}")
        for i in range(200)
    )
    rules = list(all_rules().values())
    whole, _ = check_source(source, "big.py", rules, module="big")
    monkeypatch.setattr(_parse, "BLOCK_CHARS", 1)
    blocked, _ = check_source(source, "big.py", rules, module="big")
    assert [f.code for f in whole] == ["BAS502"] * 201
    assert blocked == whole


def test_the_sleep_finder_skips_files_it_cannot_parse(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("tests/test_deep.py", "x = " + "+".join(["1"] * 5000) + "\n")
    write("tests/test_bin.py", "").write_bytes(b"\x00\x01")
    write("tests/test_ok.py", "import time\n\ndef test_a():\n    time.sleep(1)\n")
    code, out, err = _run(capsys, "--sleeps", "tests")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "1 sleep(s), 1 of them real waits"
