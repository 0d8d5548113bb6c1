"""The dashboard in a real browser: Playwright driving Debian's Chromium against a node.

The node runs in its own process (tests/console/_node.py) and serves the console with
uvicorn on 127.0.0.1. Every wait is Playwright's ``expect`` with a timeout, never a
sleep. Screenshots of the main views go to ``$BASTION_SCREENSHOTS`` (default: the test's
temporary directory). Without Playwright or Chromium the test skips, except under
``CI=true`` (``scripts/ci-chromium`` installs Chromium there), where it fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console._live import LiveNode, live_node

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WAIT_MS = 20_000


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; the dev extra has it)"
    if not Path(CHROMIUM).exists():
        return "Debian's chromium is not installed (scripts/ci-chromium installs it)"
    return None


@pytest.fixture(scope="module")
def page_on_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, LiveNode, Path]]:
    missing = _missing()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("BASTION_SCREENSHOTS") or tmp_path_factory.mktemp("screens"))
    shots.mkdir(parents=True, exist_ok=True)
    with live_node() as node, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("dialog", lambda dialog: dialog.accept("browser test"))
            page.goto(node.url, timeout=WAIT_MS)
            yield page, node, shots
        finally:
            browser.close()


def test_the_tree_renders_with_supervisors_and_children(
    page_on_node: tuple[Any, LiveNode, Path],
) -> None:
    from playwright.sync_api import expect

    page, _, shots = page_on_node
    pool = page.locator('.sup[data-supervisor="pool"]')
    expect(pool).to_be_visible(timeout=WAIT_MS)
    expect(pool.locator('tr[data-child="w1"]')).to_contain_text("running", timeout=WAIT_MS)
    expect(page.locator('.sup[data-supervisor="app"]')).to_be_visible()
    expect(page.locator("#live")).to_have_text("live", timeout=WAIT_MS)
    expect(page.locator("#health")).to_contain_text("health: ok", timeout=WAIT_MS)
    page.screenshot(path=str(shots / "console-tree.png"))


def test_a_crash_in_the_node_shows_up_as_a_restart(
    page_on_node: tuple[Any, LiveNode, Path],
) -> None:
    from playwright.sync_api import expect

    page, node, shots = page_on_node
    restarts = page.locator('.sup[data-supervisor="pool"] tr[data-child="w1"] .restarts')
    expect(restarts).to_have_text("0 restarts", timeout=WAIT_MS)
    node.crash("w1")
    expect(restarts).to_have_text("1 restarts", timeout=WAIT_MS)
    expect(page.locator("#c-restarts")).to_have_text("1", timeout=WAIT_MS)
    page.screenshot(path=str(shots / "console-restart.png"))


def test_a_control_action_is_refused_without_the_token_and_works_with_it(
    page_on_node: tuple[Any, LiveNode, Path],
) -> None:
    from playwright.sync_api import expect

    page, node, shots = page_on_node
    page.evaluate("sessionStorage.removeItem('bastion-token')")
    page.reload()
    row = page.locator('.sup[data-supervisor="pool"] tr[data-child="w2"]')
    row.locator('button[data-action="restart"]').click(timeout=WAIT_MS)
    result = page.locator("#action-result")
    expect(result).to_contain_text("refused (401)", timeout=WAIT_MS)
    page.fill("#token", node.token)
    page.click("#token-form button")
    expect(page.locator("#token-state")).to_have_text("token set for this tab")
    row.locator('button[data-action="restart"]').click(timeout=WAIT_MS)
    expect(result).to_contain_text("child.restart pool/w2: restarted", timeout=WAIT_MS)
    page.click('nav button[data-view="audit"]')
    expect(page.locator("#audit tbody tr").first).to_contain_text("browser test", timeout=WAIT_MS)
    page.screenshot(path=str(shots / "console-audit.png"))


def test_the_other_views_render(page_on_node: tuple[Any, LiveNode, Path]) -> None:
    from playwright.sync_api import expect

    page, _, shots = page_on_node
    page.click('nav button[data-view="actors"]')
    expect(page.locator("#classes tbody tr").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#actors tbody")).to_contain_text("Worker", timeout=WAIT_MS)
    page.screenshot(path=str(shots / "console-actors.png"))
    page.click('nav button[data-view="charts"]')
    expect(page.locator("#signals tbody tr").first).to_be_visible(timeout=WAIT_MS)
    page.screenshot(path=str(shots / "console-charts.png"))
    page.click('nav button[data-view="dead"]')
    expect(page.locator("#dead tbody")).to_contain_text("parcel", timeout=WAIT_MS)
    page.screenshot(path=str(shots / "console-dead-letters.png"))


def test_a_rollout_is_rolled_back_from_the_page_with_its_evidence(
    page_on_node: tuple[Any, LiveNode, Path],
) -> None:
    from playwright.sync_api import expect

    page, node, shots = page_on_node
    page.evaluate("sessionStorage.removeItem('bastion-token')")
    page.reload()
    page.click('nav button[data-view="rollouts"]')
    rollout = page.locator('.rollout[data-flag="new-step"]')
    expect(rollout.locator(".state")).to_have_text("running", timeout=WAIT_MS)
    expect(rollout.locator('table.evidence tr[data-signal="errors"]')).to_be_visible()
    rollout.locator('button[data-action="rollback"]').click(timeout=WAIT_MS)
    expect(page.locator("#action-result")).to_contain_text("refused (401)", timeout=WAIT_MS)
    expect(rollout.locator(".state")).to_have_text("running")
    page.fill("#token", node.token)
    page.click("#token-form button")
    rollout.locator('button[data-action="rollback"]').click(timeout=WAIT_MS)
    expect(page.locator("#action-result")).to_contain_text(
        "rollout.rollback new-step", timeout=WAIT_MS
    )
    rolled_back = page.locator('.rollout[data-flag="new-step"]')
    expect(rolled_back.locator(".state")).to_have_text("rolled_back", timeout=WAIT_MS)
    expect(rolled_back.locator(".decision")).to_contain_text("rollback by", timeout=WAIT_MS)
    expect(rolled_back.locator(".decision")).to_contain_text("browser test")
    expect(rolled_back.locator('table.evidence tr[data-signal="errors"]')).to_be_visible()
    expect(page.locator('#flags tr[data-flag="new-step"]')).to_contain_text("0", timeout=WAIT_MS)
    page.screenshot(path=str(shots / "console-rollout.png"), full_page=True)
