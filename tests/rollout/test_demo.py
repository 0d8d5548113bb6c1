"""``bastion demo --rollout``: the bad candidate is rolled back, the good one promoted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bastion.demo._rollout import run_rollout_demo


async def test_the_bad_candidate_is_rolled_back_then_a_good_one_promoted_on_retry(
    rt: Any, tmp_path: Path
) -> None:
    db = tmp_path / "demo.db"
    bad = await run_rollout_demo(rt, db, good=False, chaos=0.05, seed=7, timeout=600.0)
    assert (bad.status, bad.exposure, bad.attempt) == ("rolled_back", 0.0, 1)
    assert bad.reason in ("errors alarm", "absolute alarm")
    assert any(e["alarm"] for e in bad.evidence)
    good = await run_rollout_demo(rt, db, good=True, chaos=0.05, seed=7, timeout=600.0)
    assert (good.status, good.exposure, good.attempt) == ("promoted", 100.0, 2), good
    assert [d["action"] for d in good.decisions] == ["retry", *["promote"] * 4, "complete"]
    assert good.failed_requests > 0  # chaos ran in both cohorts all along
