"""A batch over a two-node Ray cluster on this machine: ``python ray_two_nodes.py MANIFEST OUT``.

Not a test module: the two-node test runs it in its own process (a cluster of its own, apart from the session's
Ray) and reads the JSON line it prints: the nodes the actors ran on, clips done, addresses listened on.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from pathlib import Path

from detective.jobs.ray_executor import loopback_only


def main() -> int:
    """Start two nodes, run the batch on two actors of one CPU each (one per node), report."""
    loopback_only()
    import ray
    from detective_testserver import ChatServer
    from ray.cluster_utils import Cluster

    from detective import logs
    from detective.agent.batch import BatchConfig, job_config, make_executor
    from detective.agent.detective import Detective
    from detective.jobs import Job
    from detective.llm.settings import Settings
    from detective.testing.ray import listening_addresses
    from detective.testing.tools import ListenTool

    logs.configure(level="ERROR")
    manifest, out = map(Path, sys.argv[1:3])
    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args=node)
    cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait_for_nodes()
        with ChatServer() as server:
            settings = Settings.from_env(env={}, api_key="sk-test-key", base_url=server.url, backoff=0.01)

            def factory() -> Detective:
                return Detective(tools=[ListenTool()], planner="llm", captioner="chat", settings=settings)

            options = {"num_cpus": 1}  # one actor fits a node: the two actors land on different nodes
            config = BatchConfig(manifest, out, workers=4, executor="ray", ray_actors=2, ray_actor_options=options)
            executor = make_executor(config, factory)
            summary = asyncio.run(Job(job_config(config), executor, io.StringIO()).run())
        listening = sorted(listening_addresses(os.getpid()))
        print(
            json.dumps(
                {
                    "nodes": sorted({p["node"] for p in executor.placements}),
                    "done": summary.done,
                    "listening": listening,
                }
            )
        )
    finally:
        ray.shutdown()
        cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
