"""The deployment of deploy/ on one box, for the tests and benchmarks/scale.py: a Ray head on loopback with the
replicas of deploy/serve.yaml, and nginx running deploy/nginx.conf in front of front ends on loopback ports.

Everything started here runs in a process group or under a pid of its own, is stopped by the caller through
these functions, and keeps its files in a temporary folder of its own.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_head(cpus: int = 2, env: dict | None = None) -> tuple[subprocess.Popen, str, str]:
    """`ray start --head` on loopback, in its own session and temp folder: (process, address, temp folder).
    Its workers import the repo (PYTHONPATH) and inherit env."""
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="gbray-", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    log = open(Path(tmp) / "head.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "ray"), "start", "--head", "--block",
                             f"--port={port}", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}", "--num-gpus=0",
                             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={tmp}"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    try:
        _wait_port(port, proc)
    except Exception:
        stop_ray(proc, tmp)
        raise
    return proc, f"127.0.0.1:{port}", tmp


def serve_up(address: str, replicas: int, quiet: bool = False) -> None:
    """Deploy (or resize) deploy/serve.yaml's application with `replicas` replicas."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GLASSBOX_RAY_ADDRESS": address, "GLASSBOX_REPLICAS": str(replicas)}
    out = subprocess.DEVNULL if quiet else None
    subprocess.run([sys.executable, "-m", "deploy.serve_app", "up", "deploy/serve.yaml"], cwd=ROOT, env=env,
                   check=True, timeout=300, stdout=out, stderr=out)


def stop_ray(proc: subprocess.Popen, tmp: str) -> None:
    """Stop the head and everything it started (its process group), then remove its folder."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 15)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    shutil.rmtree(tmp, ignore_errors=True)


def nginx_conf(upstreams: list[int], port: int, tmp: Path) -> str:
    """deploy/nginx.conf as shipped, with loopback front ends, a loopback listen port and its files in tmp."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in upstreams)
    conf, n = re.subn(r"^\s*server frontend:7860[^\n]*$", servers, conf, flags=re.M)
    assert n == 1, "deploy/nginx.conf's upstream line changed: update deploy/local.py"
    conf, n = re.subn(r"listen 80;", f"listen 127.0.0.1:{port};", conf)
    assert n == 1, "deploy/nginx.conf's listen line changed: update deploy/local.py"
    tmp.chmod(0o755)  # nginx started as root runs its workers as nobody: they write uploads to these folders
    temp_paths = ""
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / sub).mkdir(exist_ok=True)
        (tmp / sub).chmod(0o777)
        temp_paths += f"    {sub}_temp_path {tmp / sub};\n"
    conf = conf.replace("http {\n", f"http {{\n    access_log {tmp / 'access.log'};\n{temp_paths}", 1)
    return f"pid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'};\n" + conf


def start_nginx(upstreams: list[int]) -> tuple[subprocess.Popen, str, Path]:
    """nginx with deploy/nginx.conf in front of loopback front ends: (process, its url, its folder)."""
    if not Path(NGINX).exists():
        raise FileNotFoundError("nginx is not installed (apt-get install -y nginx)")
    tmp = Path(tempfile.mkdtemp(prefix="glassbox-nginx-"))
    port = free_port()
    (tmp / "nginx.conf").write_text(nginx_conf(upstreams, port, tmp))
    proc = subprocess.Popen([NGINX, "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    _wait_port(port, proc, timeout=30)
    return proc, f"http://127.0.0.1:{port}", tmp


def stop_process(proc: subprocess.Popen) -> None:
    """Stop a process this caller started (by its own pid only): SIGTERM, then SIGKILL after 15 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def stop_nginx(proc: subprocess.Popen, tmp: Path) -> None:
    stop_process(proc)
    shutil.rmtree(tmp, ignore_errors=True)
