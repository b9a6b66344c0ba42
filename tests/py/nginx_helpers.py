"""Debian's nginx run by a test: a config with the test's own `http` block under the common prelude
(a root-run worker, logs, pid and temp paths in the test's folder), checked with `nginx -t`, then
started in the foreground until a URL answers 200."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ["/usr/sbin/nginx"] if os.access(p, os.X_OK)), None)


def write_conf(d: Path, http_body: str) -> Path:
    """`d/nginx.conf`: the prelude, then `http { <temp paths> http_body }`."""
    (d / "tmp").mkdir(parents=True, exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = d / "nginx.conf"
    conf.write_text(
        f"""{user}worker_processes 1;
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
{http_body}
}}
"""
    )
    return conf


@contextmanager
def running(d: Path, http_body: str, ready: Callable[[], bool]) -> Iterator[subprocess.Popen]:
    """nginx with `write_conf(d, http_body)`, once `ready()` is true (within 10 s); stopped after."""
    binary = nginx_binary()
    if binary is None:
        pytest.fail("nginx is not installed (scripts/test.sh installs Debian's package)", pytrace=False)
    conf = write_conf(d, http_body)
    check = subprocess.run([binary, "-t", "-c", str(conf), "-p", str(d)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(d), "-g", "daemon off;"], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if ready():
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "nginx exited"
            assert time.monotonic() < deadline, "nginx did not come up"
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
