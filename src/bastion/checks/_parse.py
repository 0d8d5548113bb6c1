"""Reading and parsing one source file, big files a block of top-level statements at a time.

``ast.parse`` of a whole file holds every node at once: about 100 bytes of AST per byte
of source (a 5 MB file needs ~0.5-1 GB). Files above :data:`BLOCK_CHARS` are split at
lines that start a top-level statement and parsed block by block, so the walker holds
one block's tree at a time. A split that lands inside a string, a bracket, a decorated
definition or a continued line makes the block fail to parse: the block is then grown
(by an eighth each time, so a pathological file costs O(n log n), not O(n²)) and
retried.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import warnings
from collections.abc import Iterator

__all__ = ["BLOCK_CHARS", "SourceError", "decode", "parse_blocks"]

BLOCK_CHARS = 256 * 1024
"""Files longer than this (in characters) are parsed in blocks of about this size."""

_CONTINUES = re.compile(r"(else|elif|except|finally)\b")


class SourceError(ValueError):
    """The bytes are not Python source text (binary data, or not in their encoding)."""


def decode(data: bytes) -> str:
    """Source text of ``data`` per PEP 263 (BOM, coding cookie, else UTF-8).

    Raises :class:`SourceError` with a one-line reason for binary data, an unknown
    encoding or bytes that are invalid in the file's encoding.
    """
    if b"\x00" in data:
        raise SourceError("not Python source: the file contains NUL bytes (binary data)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # unknown codec in the cookie, or a BOM that contradicts it
        raise SourceError(
            f"cannot decode: {exc.msg} (not UTF-8? declare the encoding with a "
            "`# -*- coding: ... -*-` line)"
        ) from None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"cannot decode: byte {data[exc.start]:#04x} at offset {exc.start} is not valid "
            f"{encoding} (declare the encoding with a `# -*- coding: ... -*-` line)"
        ) from None


def _parse(text: str, path: str) -> ast.Module:
    with warnings.catch_warnings():  # the compiler's SyntaxWarnings are not ours to print
        warnings.simplefilter("ignore")
        return ast.parse(text, filename=path)


def _starts_statement(line: str, previous: str) -> bool:
    first = line[:1]
    if not first or first.isspace() or first in "#)]}" or previous.startswith("@"):
        return False
    return _CONTINUES.match(line) is None


def parse_blocks(text: str, path: str) -> Iterator[ast.Module]:
    """Modules that together hold every top-level statement of ``text``, in order.

    Line numbers are those of the whole file. Raises ``SyntaxError`` (line numbers of
    the whole file) and ``RecursionError`` like :func:`ast.parse`.
    """
    if len(text) <= BLOCK_CHARS:
        yield _parse(text, path)
        return
    lines = text.splitlines(keepends=True)
    start, size, wanted = 0, 0, BLOCK_CHARS
    for index, line in enumerate(lines):
        if size >= wanted and _starts_statement(line, lines[index - 1]):
            try:
                block = _parse("".join(lines[start:index]), path)
            except SyntaxError:
                wanted = size + size // 8  # a split inside a construct: a bigger block
            else:
                yield ast.increment_lineno(block, start)
                start, size, wanted = index, 0, BLOCK_CHARS
        size += len(line)
    try:
        tail = _parse("".join(lines[start:]), path)
    except SyntaxError as exc:
        if exc.lineno is not None:
            exc.lineno += start
        raise
    yield ast.increment_lineno(tail, start)
