"""What every API test module shares: the hub in-process and a gradio_client for it (one of each per module)."""

from __future__ import annotations

import pytest

from conftest import hub_in_process


@pytest.fixture(scope="module")
def hub():
    with hub_in_process() as (_, url):
        yield url


@pytest.fixture(scope="module")
def client(hub):
    from gradio_client import Client

    return Client(hub + "/", verbose=False)
