"""A small Ray cluster on this machine (two raylets), once per test module.

Ray's start is slow (seconds per raylet), so one module-scoped cluster serves every test
of a module; it is shut down even when a test fails. Without Ray (the ``ray`` extra)
the tests skip, except under ``CI=true``, where a missing Ray fails them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

try:
    from ray.cluster_utils import Cluster

    import ray
except ImportError:
    if os.environ.get("CI") == "true":
        raise  # CI installs the dev extra, which has Ray: its absence is a failure
    pytest.skip("Ray is not installed (pip install 'bastion[ray]')", allow_module_level=True)

_STORE = 80 * 1024 * 1024  # Ray's smallest object store: the tests move bytes only
_FAST_FAILURE_DETECTION = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 200,
    "health_check_failure_threshold": 3,
}


@dataclass
class RayCluster:
    """The running test cluster: the Ray ``Cluster``, its head and its worker node.

    ``app_dir`` is on the ``sys.path`` of the driver and (``PYTHONPATH``) of every Ray
    worker: a module written there is importable everywhere, as an installed one is.
    """

    cluster: Any
    head: Any
    worker: Any
    app_dir: Path

    def node_ids(self) -> set[str]:
        """The ids of the nodes still in the cluster."""
        nodes = [self.head] if self.worker is None else [self.head, self.worker]
        return {node.node_id for node in nodes}

    def remove_worker(self) -> None:
        """Kill the worker node's raylet and worker processes, as a crash would."""
        node, self.worker = self.worker, None
        self.cluster.remove_node(node, allow_graceful=False)


def _python_path(first: Path) -> str:
    """``first``, then the ``PYTHONPATH`` the driver has (the workers' would replace it)."""
    return os.pathsep.join(p for p in (str(first), os.environ.get("PYTHONPATH", "")) if p)


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    """A head and a worker node with one CPU each (placed actors reserve one CPU)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    app_dir = tmp_path_factory.mktemp("ray-app")
    sys.path.insert(0, str(app_dir))
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": False,
            "object_store_memory": _STORE,
            "_system_config": _FAST_FAILURE_DETECTION,
        },
    )
    try:
        worker = cluster.add_node(num_cpus=1, object_store_memory=_STORE)
        ray.init(
            address=cluster.address,
            logging_level="WARNING",
            log_to_driver=False,
            runtime_env={"env_vars": {"PYTHONPATH": _python_path(app_dir)}},
        )
        cluster.wait_for_nodes()
        yield RayCluster(cluster, cluster.head_node, worker, app_dir)
    finally:
        ray.shutdown()
        cluster.shutdown()
        sys.path.remove(str(app_dir))
