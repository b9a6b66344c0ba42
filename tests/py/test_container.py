"""The shipped Dockerfile, built and run with Debian's podman: no registry is reachable, so the runtime base
image is made here from this host's own files (the glibc libraries `ldd` lists for the tested binary, an
/etc/passwd and a /tmp) and the Dockerfile's BINARY=prebuilt stage takes the tested binary instead of
compiling it again. The container runs as in production: read-only root filesystem, images mounted
read-only, configured by environment, health-checked by `tessera health`.

Where podman is missing or cannot run a container here (no namespaces, no usable OCI runtime), the tests are
skipped and say why.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from conftest import HOST, REPO_ROOT, VALIDATOR_ID, Client, free_port, tessera_bin

TAG = uuid.uuid4().hex[:8]
BASE = f"localhost/tessera-test-base:{TAG}"
IMAGE = f"localhost/tessera-test:{TAG}"


class Podman:
    """podman with what this kind of sandbox needs: no default rlimits (raising them needs
    CAP_SYS_RESOURCE) and, where crun refuses hybrid cgroups, runc."""

    def __init__(self, binary: str, conf: Path, runtime: list[str]):
        self.binary, self.conf, self.runtime = binary, conf, runtime

    def __call__(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        out = subprocess.run(
            [self.binary, *self.runtime, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={"CONTAINERS_CONF": str(self.conf), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"},
            stdin=subprocess.DEVNULL,
        )
        if check:
            assert out.returncode == 0, f"podman {' '.join(args)}:\n{out.stdout}\n{out.stderr}"
        return out


def base_rootfs_tar(binary: Path, dest: Path) -> Path:
    """A minimal root filesystem: the shared libraries `binary` links, passwd/group, a sticky /tmp."""
    ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    libs = set(re.findall(r"(/\S+\.so[.\d]*)", ldd))
    assert any("libc.so" in lib for lib in libs), ldd
    tar_path = dest / "base.tar"
    with tarfile.open(tar_path, "w") as tar:
        for lib in sorted(libs):
            tar.add(str(Path(lib).resolve()), arcname=lib.lstrip("/"))
        for name, text in [
            ("etc/passwd", "root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"),
            ("etc/group", "root:x:0:\nnonroot:x:65532:\n"),
        ]:
            f = dest / name.replace("/", "_")
            f.write_text(text)
            tar.add(str(f), arcname=name)
        tmp = tarfile.TarInfo("tmp")
        tmp.type, tmp.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(tmp)
    return tar_path


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    binary = shutil.which("podman")
    if binary is None:
        pytest.skip("no container engine: podman is not installed (scripts/test.sh installs Debian's podman and runc)")
    d = tmp_path_factory.mktemp("podman")
    conf = d / "containers.conf"
    conf.write_text("[containers]\ndefault_ulimits = []\n")
    base = Podman(binary, conf, [])
    base("import", str(base_rootfs_tar(tessera_bin(), d)), BASE)
    errors = []
    for runtime in ([], ["--runtime", "runc"]):
        if runtime and shutil.which("runc") is None:
            continue
        p = Podman(binary, conf, runtime)
        out = p("run", "--rm", "--entrypoint", "/lib64/ld-linux-x86-64.so.2", BASE, "--help", check=False, timeout=60)
        if out.returncode == 0:
            break
        errors.append(f"{runtime or 'default runtime'}: {out.stderr.strip()[-300:]}")
    else:
        base("rmi", "-f", BASE, check=False)
        pytest.skip("podman cannot run a container here: " + "; ".join(errors))
    dangling_before = set(p("images", "-q", "--filter", "dangling=true").stdout.split())
    yield p
    p("rmi", "-f", IMAGE, BASE, check=False)
    # The build's intermediate stage images (the prebuilt binary's stage), and nothing older.
    new = set(p("images", "-q", "--filter", "dangling=true").stdout.split()) - dangling_before
    if new:
        p("rmi", "-f", *sorted(new), check=False)


@pytest.fixture(scope="module")
def image(podman, tmp_path_factory):
    """The shipped Dockerfile built with the tested binary and the local base image."""
    ctx = tmp_path_factory.mktemp("context")
    shutil.copy(REPO_ROOT / "Dockerfile", ctx / "Dockerfile")
    shutil.copy(REPO_ROOT / ".dockerignore", ctx / ".dockerignore")
    (ctx / "target" / "release").mkdir(parents=True)
    shutil.copy(tessera_bin(), ctx / "target" / "release" / "tessera")
    podman(
        "build", "--format", "docker", "--build-arg", "BINARY=prebuilt", "--build-arg", f"RUNTIME_IMAGE={BASE}",
        "-t", IMAGE, str(ctx),
    )
    return IMAGE


@pytest.fixture(scope="module")
def container(podman, image, images):
    port = free_port()
    name = f"tessera-test-{TAG}"
    podman(
        "run", "-d", "--name", name, "--read-only", "-v", f"{images}:/images:ro", "-p", f"{HOST}:{port}:8080",
        "-e", "TESSERA_OUTPUT_PREFERRED_FORMATS=webp,jpg", image,
    )
    client = Client(port)
    deadline = time.monotonic() + 30
    while True:
        try:
            if client.get("/health/ready", timeout=2).status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            logs = podman("logs", name, check=False)
            podman("rm", "-f", name, check=False)
            pytest.fail(f"the container did not become ready:\n{logs.stdout}\n{logs.stderr}", pytrace=False)
        time.sleep(0.2)
    yield name, client
    podman("rm", "-f", name, check=False)


def test_the_container_serves_a_tile_and_info_json(container, client):
    _, c = container
    path = f"/iiif/3/{VALIDATOR_ID}/0,0,512,512/256,/0/default.jpg"
    tile = c.get(path)
    assert tile.status == 200 and tile.header("Content-Type") == "image/jpeg", tile
    assert tile.image().size == (256, 256)
    assert tile.body == client.get(path).body, "the same binary outside the container gives the same bytes"
    info = c.get(f"/iiif/3/{VALIDATOR_ID}/info.json").json()
    assert info["id"] == f"http://{HOST}:{c.port}/iiif/3/{VALIDATOR_ID}"
    # Configured by environment (podman run -e).
    assert info["preferredFormats"] == ["webp", "jpg"]
    assert c.get(f"/iiif/3/{VALIDATOR_ID}/full/64,/0/default.avif").header("Content-Type") == "image/avif"


def test_the_container_is_unprivileged_read_only_and_health_checked(podman, container):
    name, _ = container
    inspect = podman("inspect", name, "--format", "{{.Config.User}}|{{.HostConfig.ReadonlyRootfs}}|{{range .Mounts}}{{.Destination}}={{.RW}} {{end}}")
    user, read_only, mounts = inspect.stdout.strip().split("|")
    assert user == "65532:65532" and read_only == "true", inspect.stdout
    assert mounts.split() == ["/images=false"], mounts
    top = podman("top", name, "user", "huser")
    # Inside, the user is distroless's "nonroot" (uid 65532); on the host, the process is uid 65532 too.
    assert top.stdout.split()[2:4] == ["nonroot", "65532"], top.stdout
    # The image's HEALTHCHECK (tessera health) passes; the same command against a wrong port fails.
    assert podman("healthcheck", "run", name, check=False).returncode == 0
    bad = podman("exec", name, "/usr/local/bin/tessera", "health", "--listen", "127.0.0.1:1", check=False)
    assert bad.returncode != 0
    assert podman("image", "inspect", IMAGE, "--format", "{{.Config.Healthcheck.Test}}").stdout.strip() == (
        "[CMD /usr/local/bin/tessera health]"
    )


def test_the_compose_example_matches_the_dockerfile_and_the_nginx_example():
    """compose.yaml cannot be brought up here (its nginx image comes from a registry), so its wiring is
    checked against the files it uses: the shipped Nginx config unchanged, in tessera's network
    namespace, whose upstream address is where Tessera is told to listen."""
    import yaml

    compose = yaml.safe_load((REPO_ROOT / "deploy" / "compose.yaml").read_text())
    tessera, nginx = compose["services"]["tessera"], compose["services"]["nginx"]
    assert (REPO_ROOT / "deploy" / tessera["build"]["context"] / tessera["build"]["dockerfile"]).is_file()
    assert tessera["read_only"] is True
    assert any(v.endswith(":/images:ro") for v in tessera["volumes"]), tessera["volumes"]
    assert any(v.endswith(":/tmp") for v in tessera["volumes"]), "caches need a writable /tmp"
    upstream = re.search(r"server (\S+);", (REPO_ROOT / "deploy" / "nginx" / "tessera.conf").read_text()).group(1)
    assert tessera["environment"]["TESSERA_SERVER_LISTEN"] == upstream
    assert "127.0.0.1" in tessera["environment"]["TESSERA_SERVER_TRUSTED_PROXIES"]
    assert nginx["network_mode"] == "service:tessera"
    assert "./nginx/tessera.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    assert nginx["depends_on"]["tessera"]["condition"] == "service_healthy"
    assert {"80:80", "443:443"} <= set(tessera["ports"])
