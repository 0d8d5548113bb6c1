"""A small Ray cluster on this machine (two raylets), once per test module.

Ray's start is slow (seconds per raylet), so one module-scoped cluster serves every test
of a module; it is shut down even when a test fails. Without Ray (the ``ray`` extra)
the tests skip, except under ``CI=true``, where a missing Ray fails them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
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
    """The running test cluster: the Ray ``Cluster``, its head and its worker node."""

    cluster: Any
    head: Any
    worker: Any

    def node_ids(self) -> set[str]:
        """The ids of the nodes still in the cluster."""
        nodes = [self.head] if self.worker is None else [self.head, self.worker]
        return {node.node_id for node in nodes}

    def remove_worker(self) -> None:
        """Kill the worker node's raylet and worker processes, as a crash would."""
        node, self.worker = self.worker, None
        self.cluster.remove_node(node, allow_graceful=False)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    """A head and a worker node with one CPU each (placed actors reserve one CPU)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
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
        ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
        cluster.wait_for_nodes()
        yield RayCluster(cluster, cluster.head_node, worker)
    finally:
        ray.shutdown()
        cluster.shutdown()
