"""docs/console.md: its examples run, and its API reference is the OpenAPI document's."""

from __future__ import annotations

import re

import pytest

from bastion.console import openapi_document
from bastion.console._reference import BEGIN, END, reference_markdown
from tests._docs import DOCS, page_examples, run_example

PAGE = DOCS / "console.md"
TEXT = PAGE.read_text(encoding="utf-8")
EXAMPLES = [(w, source) for w, source in page_examples("console.md") if "asyncio.run(" in source]


def test_the_page_is_linked_from_the_index_and_shows_its_screenshots() -> None:
    assert "(console.md)" in (DOCS / "index.md").read_text(encoding="utf-8")
    for image in re.findall(r"\]\((img/[^)]+\.png)\)", TEXT):
        assert (DOCS / image).is_file(), image
    assert "img/console-restart.png" in TEXT


def test_the_api_reference_is_generated_from_the_openapi_document() -> None:
    start, end = TEXT.index(BEGIN), TEXT.index(END) + len(END)
    assert TEXT[start:end] == reference_markdown(), "run: python -m bastion.console._reference"


def test_the_api_reference_lists_every_path_and_method() -> None:
    reference = TEXT[TEXT.index(BEGIN) : TEXT.index(END)]
    for path, item in openapi_document()["paths"].items():
        for method in item:
            row = re.compile(rf"^\| {method.upper()}( \(token\))? \| `{re.escape(path)}` \|", re.M)
            assert row.search(reference), f"{method.upper()} {path} is missing"


@pytest.mark.parametrize(("where", "source"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
@pytest.mark.bastion(real_time=True)
def test_doc_example_runs(where: str, source: str) -> None:
    run_example(where, source)
