"""The Ray Serve side of GLASSBOX_BACKEND=ray: one deployment whose replicas run the hubs' lane jobs.

Each replica is a process with its own compute lane and its own bounded model cache (GLASSBOX_MAX_MODELS,
GLASSBOX_MODEL_MEMORY_MB apply per replica). How many replicas, autoscaling and GPUs per replica are set in one
file, deploy/serve.yaml, read by `python -m deploy.serve_app up` here and by `serve deploy` / KubeRay (its
`import_path` is this module's `app`).

    python -m deploy.serve_app up [deploy/serve.yaml]   # deploy (or update) on the cluster at GLASSBOX_RAY_ADDRESS
    python -m deploy.serve_app down                     # delete the application
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import sys

from ray import serve

from core import lane, remote

_END = object()


@serve.deployment(name=remote.DEPLOYMENT, max_ongoing_requests=16)
class Worker:
    """Runs what core.lane would have run in the front end. Jobs come as closures (pickled by Ray); the code
    they name is imported from this replica's own copy of the repo, which must be the front ends' version.

    The methods are async only to reach Serve's affinity routing (below); the job itself runs on this replica's
    lane, waited for in a thread pool of 32 (twice the requests a replica accepts at once, max_ongoing_requests)."""

    def __init__(self):
        remote.SERVING = True  # nested lane work (FGSM asking Grad-CAM) runs here, inline, not back through Ray
        self.id = f"{remote.DEPLOYMENT}#{serve.get_replica_context().replica_id.unique_id}"
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="glassbox-wait")
        from apps.registry import DEMOS
        from core import warmup

        # Each page's default models load (and its default example runs) before the first learner's request.
        warmup.start([d.warmup for d in DEMOS if d.built and d.warmup])

    @serve.multiplexed(max_num_models_per_replica=64)
    async def _keep(self, key: str) -> str:
        """Affinity: a job sent with an affinity key (core.remote.affinity, e.g. SAM's image) marks this replica as
        holding that key; Serve routes later jobs with the same key here (its model multiplexing), so SAM encodes
        an image once and each click after that only decodes. Keys past the 64 most recent are forgotten."""
        return key

    async def _affinity(self) -> None:
        key = serve.get_multiplexed_model_id()
        if key:
            await self._keep(key)

    async def run(self, fn, name: str = ""):
        """(this replica's id, fn()) with fn run on this replica's lane."""
        await self._affinity()
        loop = asyncio.get_running_loop()
        return self.id, await loop.run_in_executor(self.pool, lane.run, fn, name)

    async def stream(self, gen_fn, name: str = ""):
        """(this replica's id, item) for each item of gen_fn(), chunk by chunk on this replica's lane. When the
        front end cancels (its learner left), this generator is closed and the lane drops the job."""
        await self._affinity()
        loop = asyncio.get_running_loop()
        items = lane.stream(gen_fn, name)
        pending = None
        try:
            while True:
                pending = loop.run_in_executor(self.pool, next, items, _END)
                item = await pending
                if item is _END:
                    return
                yield self.id, item
        finally:
            if pending is not None and not pending.done():
                # Cancelled while a chunk runs: close the job once that chunk is done (a generator cannot be
                # closed while another thread is inside it).
                pending.add_done_callback(lambda _: items.close())
            else:
                items.close()

    def ping(self):
        return self.id, os.getpid()


app = Worker.bind()


def _options(config: dict) -> dict:
    """Worker.options(...) from the one application entry of a Serve config file (deploy/serve.yaml)."""
    entry = next(a for a in config.get("applications", []) if a.get("name") == remote.APP)
    dep = next((d for d in entry.get("deployments", []) if d.get("name") == remote.DEPLOYMENT), {})
    opts = {k: dep[k] for k in ("num_replicas", "max_ongoing_requests", "autoscaling_config", "ray_actor_options",
                                "graceful_shutdown_timeout_s", "health_check_period_s") if k in dep}
    if entry.get("runtime_env"):
        opts.setdefault("ray_actor_options", {})["runtime_env"] = entry["runtime_env"]
    return opts


def up(path: str = "deploy/serve.yaml", replicas: int | None = None) -> None:
    import yaml

    with open(path) as f:
        config = yaml.safe_load(f)
    opts = _options(config)
    if replicas is not None:  # the tests and benchmarks/scale.py: the same file, another replica count
        opts.pop("autoscaling_config", None)
        opts["num_replicas"] = replicas
    _join()
    serve.start(proxy_location=config.get("proxy_location", "Disabled"))
    serve.run(Worker.options(**opts).bind(), name=remote.APP, route_prefix=None)
    print(f"Serve application {remote.APP!r} is up: {opts}")


def down() -> None:
    _join()
    serve.delete(remote.APP)


def _join() -> None:
    """Connect this process to the cluster at GLASSBOX_RAY_ADDRESS, in Serve's namespace."""
    import ray

    ray.init(address=os.environ.get("GLASSBOX_RAY_ADDRESS", "auto"), logging_level=logging.WARNING,
             namespace="serve")


if __name__ == "__main__":
    args = sys.argv[1:] or ["up"]
    if args[0] == "up":
        up(*(args[1:2] or ["deploy/serve.yaml"]),
           replicas=int(os.environ["GLASSBOX_REPLICAS"]) if os.environ.get("GLASSBOX_REPLICAS") else None)
    elif args[0] == "down":
        down()
    else:
        sys.exit("usage: python -m deploy.serve_app {up [config.yaml]|down}")
