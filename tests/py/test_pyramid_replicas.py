"""Pyramids shared by a cluster through S3 (`[pyramid] shared`, issue 12): three Tessera replicas,
each with its own local pyramid store and the same `s3://bucket/prefix`, behind Debian's nginx
round-robin, against moto's S3 server on 127.0.0.1 (which honours `If-None-Match: *`).

A burst of concurrent tile requests for a new image, spread over the three, causes exactly one build
in the cluster (the sum of the three replicas' builds); the other two copy the finished pyramid
from the bucket and answer from it. A replica restarted with an empty local store finds the pyramid
in the bucket and builds nothing. A pyramid over 16 MiB goes up in parts and comes down by ranges. A
replica whose bucket cannot be reached still answers, within the wait.
"""

from __future__ import annotations

import http.client
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import tessera_bin
from origins import AWS_ENV, HOST, S3Server, Tessera, big_image, free_port
from nginx_helpers import running

BUCKET = "pyramids"
PREFIX = "cluster/one"
TILE = 256
IMAGES = ["burst.jpg", "restart.jpg", "unreachable.jpg"]


def value(text: str, name: str) -> float:
    """The sum of the samples of `name` in a /metrics text."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def config(path: Path, store: Path, shared: str, wait: float = 60) -> Path:
    path.write_text(
        f"""
[output]
tile_size = {TILE}
[fetch]
timeout_secs = 5.0
connect_timeout_secs = 1.0
retries = 1
backoff_ms = 50
[pyramid]
min_pixels = 1
dir = "{store}"
wait_secs = {wait}
shared = "{shared}"
"""
    )
    return path


class Cluster:
    def __init__(self, tmp: Path, images: Path, s3: S3Server):
        self.tmp, self.images, self.s3 = tmp, images, s3
        self.env = {**AWS_ENV, "AWS_ENDPOINT_URL": s3.endpoint}
        self.count = 0

    def replica(self, shared: str = f"s3://{BUCKET}/{PREFIX}", wait: float = 60, env: dict | None = None) -> Tessera:
        self.count += 1
        n = self.count
        store = self.tmp / f"store{n}"
        cfg = config(self.tmp / f"replica{n}.toml", store, shared, wait)
        return Tessera(
            tessera_bin(),
            ["--config", str(cfg), "--images", str(self.images)],
            self.tmp / f"replica{n}.log",
            env={**self.env, **(env or {})},
        )


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replicas")
    images = tmp / "images"
    images.mkdir()
    photo = big_image(3000, 2000)
    for i, name in enumerate(IMAGES):
        photo.rotate(90 * i).save(images / name, quality=90)
    s3 = S3Server(tmp / "moto.log")
    s3.bucket(BUCKET)
    cluster = Cluster(tmp, images, s3)
    replicas = [cluster.replica() for _ in range(3)]
    try:
        yield cluster, replicas
    finally:
        for r in replicas:
            r.stop()
        s3.stop()


@pytest.fixture(scope="module")
def nginx(setup, tmp_path_factory):
    _, replicas = setup
    d = tmp_path_factory.mktemp("nginx-replicas")
    port = free_port()
    servers = "\n".join(f"        server {HOST}:{r.port};" for r in replicas)
    body = f"""    upstream tessera {{
{servers}
    }}
    server {{
        listen {HOST}:{port};
        location / {{
            proxy_pass http://tessera;
            proxy_read_timeout 120s;
            proxy_next_upstream off;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
"""
    with running(d, body, lambda: get(port, "/health/live")[0] == 200):
        yield port


def get(port: int, path: str, timeout: float = 120) -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read(), r.getheader("X-Upstream") or ""
    finally:
        conn.close()


def tiles(name: str, count: int) -> list[str]:
    across = 3000 // TILE
    return [
        f"/iiif/3/{name}/{(i % across) * TILE},{(i // across) * TILE},{TILE},{TILE}/{TILE},{TILE}/0/default.jpg"
        for i in range(count)
    ]


def bucket_keys(s3: S3Server) -> list[str]:
    listed = s3.client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + "/")
    return sorted(o["Key"] for o in listed.get("Contents", []))


def copied_not_built(replica: Tessera) -> None:
    """The replica copied one pyramid from the bucket, built none, and answered from it."""
    text = replica.metrics()
    assert value(text, "tessera_pyramid_builds_started_total") == 0, replica.log_text()
    assert value(text, "tessera_pyramid_shared_fetches_total") == 1, replica.log_text()
    assert value(text, "tessera_pyramid_hits_total") >= 1, replica.log_text()


def test_a_burst_over_three_replicas_builds_once(setup, nginx, report):
    cluster, replicas = setup
    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(lambda p: get(nginx, p), tiles("burst.jpg", 30)))
    assert [a[0] for a in answers] == [200] * 30, [(a[0], a[1][:200]) for a in answers if a[0] != 200]
    upstreams = {a[2] for a in answers}
    assert len(upstreams) == 3, f"the burst reached {upstreams}"
    texts = [r.metrics() for r in replicas]
    started = [value(t, "tessera_pyramid_builds_started_total") for t in texts]
    completed = [value(t, "tessera_pyramid_builds_completed_total") for t in texts]
    fetched = [value(t, "tessera_pyramid_shared_fetches_total") for t in texts]
    left = [value(t, "tessera_pyramid_builds_left_total") for t in texts]
    logs = "\n".join(r.log_text()[-3000:] for r in replicas)
    assert sum(started) == 1, (started, logs)
    assert sum(completed) == 1, (completed, logs)
    builder = started.index(1)
    # The two others copied the pyramid from the bucket (after waiting for the lease, or not).
    assert fetched[builder] == 0 and sum(fetched) == 2, (fetched, logs)
    assert all(value(t, "tessera_pyramid_shared_errors_total") == 0 for t in texts), logs
    keys = bucket_keys(cluster.s3)
    assert len(keys) == 1 and keys[0].endswith(".tif"), f"one pyramid and no lease left: {keys}"
    # Each replica now answers that image from a pyramid.
    for i, r in enumerate(replicas):
        hits = value(r.metrics(), "tessera_pyramid_hits_total")
        status, _ = r.get(f"/iiif/3/burst.jpg/{1024 + i * TILE},1024,{TILE},{TILE}/{TILE // 2},/0/default.jpg")
        assert status == 200
        assert value(r.metrics(), "tessera_pyramid_hits_total") > hits, f"replica {i} did not use a pyramid"
    report(
        f"30 concurrent tiles over 3 replicas via nginx: builds {started}, fetched from S3 {fetched}, "
        f"builds left to another replica {left}"
    )


def test_a_restarted_replica_finds_the_pyramid_in_the_bucket(setup):
    cluster, _ = setup
    # Built once by one replica ...
    first = cluster.replica()
    try:
        assert first.get(tiles("restart.jpg", 1)[0])[0] == 200
        assert value(first.metrics(), "tessera_pyramid_builds_completed_total") == 1, first.log_text()
    finally:
        first.stop()
    # ... then a fresh one with an empty local store copies it and builds nothing.
    fresh = cluster.replica()
    try:
        assert not any(cluster.tmp.glob(f"store{cluster.count}/*.tif"))
        status, _ = fresh.get(tiles("restart.jpg", 2)[1])
        assert status == 200
        copied_not_built(fresh)
    finally:
        fresh.stop()


def test_an_unreachable_bucket_is_not_fatal(setup):
    """The bucket's endpoint refuses connections: the replica starts, answers within the wait, and
    builds its own pyramid unshared."""
    cluster, _ = setup
    dead = f"http://{HOST}:{free_port()}"
    r = cluster.replica(wait=10, env={"AWS_ENDPOINT_URL": dead})
    try:
        started = time.monotonic()
        status, _ = r.get(tiles("unreachable.jpg", 1)[0], timeout=60)
        assert status == 200
        assert time.monotonic() - started < 30
        text = r.metrics()
        assert value(text, "tessera_pyramid_shared_errors_total") >= 1, r.log_text()
        assert "shared pyramid store request failed" in r.log_text()
        assert r.get("/health/ready")[0] == 200
    finally:
        r.stop()


def test_a_large_pyramid_is_uploaded_in_parts_and_copied_by_ranges(setup):
    """A pyramid over 16 MiB goes up as a multipart upload and comes down in several ranged reads."""
    cluster, _ = setup
    big_image(4800, 4000).save(cluster.images / "large.jpg", quality=95)
    path = "/iiif/3/large.jpg/0,0,256,256/256,256/0/default.jpg"
    builder = cluster.replica()
    try:
        assert builder.get(path)[0] == 200
        assert value(builder.metrics(), "tessera_pyramid_builds_completed_total") == 1, builder.log_text()
    finally:
        builder.stop()
    sizes = {
        o["Key"]: o["Size"]
        for o in cluster.s3.client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + "/").get("Contents", [])
    }
    assert max(sizes.values()) > 16 << 20, sizes
    fresh = cluster.replica()
    try:
        assert fresh.get(path.replace("0,0,", "2048,2048,"))[0] == 200
        copied_not_built(fresh)
    finally:
        fresh.stop()
