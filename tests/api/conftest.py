"""What every API test module shares: the hub in-process and a gradio_client for it (one of each per module).

GLASSBOX_TEST_BACKEND=ray runs every API test again with the model work on Ray Serve: a Ray head with 2 replicas
is started for the session (tests/conftest.py ray_serve) and the hubs, in-process or started by a test, use it.
The test command does this pass after the main one (scripts/dev.sh).
"""

from __future__ import annotations

import os

import pytest

from conftest import backend, hub_in_process


@pytest.fixture(scope="session", autouse=True)
def api_backend(request):
    """The backend every API test of this session runs on: local (the default) or ray."""
    if os.environ.get("GLASSBOX_TEST_BACKEND", "local") != "ray":
        yield "local"
        return
    address = request.getfixturevalue("ray_cluster")
    with backend("ray", address):
        yield "ray"


@pytest.fixture(scope="module")
def hub():
    with hub_in_process() as (_, url):
        yield url


@pytest.fixture(scope="module")
def client(hub):
    from gradio_client import Client

    return Client(hub + "/", verbose=False)
