"""The compose file, Dockerfiles and nginx config, checked as far as possible without a Docker engine.

What an engine would catch at build or start time is checked here by reading the files: structure,
the GPU reservation, paths that must exist, the healthcheck route, and that the images run the same
commands the Makefile and README document.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import typer

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read docker-compose.yml")
tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICE_PROJECT = tomllib.loads((REPO / "service" / "pyproject.toml").read_text())["project"]
TRAINING_PROJECT = tomllib.loads((REPO / "training" / "pyproject.toml").read_text())["project"]
SERVICES = COMPOSE["services"]


def dockerfile(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (REPO / "docker" / name).read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            pairs.append((op.upper(), rest.strip()))
    return pairs


def args_of(pairs: list[tuple[str, str]], op: str) -> list[str]:
    return [rest for o, rest in pairs if o == op]


def exec_form(rest: str) -> list[str]:
    return json.loads(rest) if rest.startswith("[") else shlex.split(rest)


def ignored(rel: str) -> bool:
    patterns = [p.strip() for p in (REPO / ".dockerignore").read_text().splitlines()]
    patterns = [p.rstrip("/") for p in patterns if p and not p.startswith("#")]
    return any(fnmatch.fnmatch(rel.rstrip("/"), p.removeprefix("**/")) or rel.startswith(p + "/") for p in patterns)


def gpu_devices(service: dict) -> list[dict]:
    return service["deploy"]["resources"]["reservations"]["devices"]


def test_compose_services_and_gpu_reservation() -> None:
    assert {"aecodec", "nginx", "train"} <= set(SERVICES)
    for name in ("aecodec", "train"):
        (device,) = gpu_devices(SERVICES[name])
        assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert "ports" not in SERVICES["aecodec"], "replicas must not publish a host port, or --scale collides"
    assert SERVICES["train"]["profiles"] == ["train"]
    assert "profiles" not in SERVICES["aecodec"] and "profiles" not in SERVICES["nginx"]


def test_models_are_mounted_read_only_where_the_service_looks() -> None:
    svc = SERVICES["aecodec"]
    model_dir = svc["environment"]["AECODEC_MODEL_DIR"]
    host, _, mode = next(v.split(":") for v in svc["volumes"] if v.split(":")[1] == model_dir)
    assert mode == "ro" and (REPO / host).is_dir()


def test_healthcheck_probes_a_readiness_route_the_service_has() -> None:
    svc = SERVICES["aecodec"]
    probe = " ".join(svc["healthcheck"]["test"])
    match = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", probe)
    assert match, probe
    assert match.group(1) == svc["environment"]["AECODEC_PORT"] and match.group(1) in svc["expose"]
    assert match.group(2) == "/readyz"
    main = pytest.importorskip("aecodec_service.main")

    async def probe_status(path: str) -> int:  # in-process, no lifespan: nothing loaded, so "not ready"
        transport = httpx.ASGITransport(app=main.create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            return (await client.get(path)).status_code

    assert asyncio.run(probe_status("/readyz")) == 503  # the route exists (a missing one is 404)
    assert asyncio.run(probe_status("/no-such-probe")) == 404
    assert SERVICES["nginx"]["depends_on"]["aecodec"]["condition"] == "service_healthy"


def test_nginx_balances_over_the_compose_service() -> None:
    nginx = SERVICES["nginx"]
    host, target, _ = nginx["volumes"][0].split(":")
    assert target == "/etc/nginx/nginx.conf" and (REPO / host).is_file()
    conf = (REPO / host).read_text()
    assert conf.count("{") == conf.count("}")
    port = SERVICES["aecodec"]["environment"]["AECODEC_PORT"]
    assert re.search(rf"server\s+aecodec:{port}\s+resolve", conf), "upstream must follow the scaled replicas"
    assert "resolver 127.0.0.11" in conf  # Docker's DNS, re-resolved as replicas come and go
    limit = int(re.search(r"client_max_body_size\s+(\d+)m;", conf).group(1)) * 1024 * 1024
    config = pytest.importorskip("aecodec_service.core.config")
    assert limit == config.Settings().max_body_bytes, "nginx and the service must refuse the same bodies"
    assert any(p.endswith(":80") for p in nginx["ports"])


def test_every_file_the_images_copy_exists_and_is_in_the_build_context() -> None:
    for name in ("serve.Dockerfile", "train.Dockerfile"):
        for rest in args_of(dockerfile(name), "COPY"):
            if rest.startswith("--from"):
                continue
            for src in shlex.split(rest)[:-1]:
                assert (REPO / src).exists(), f"{name}: COPY {src}: no such file in the repository"
                assert not ignored(src), f"{name}: COPY {src} is excluded by .dockerignore"
    for name, svc in SERVICES.items():
        if "build" in svc:
            assert (REPO / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file(), name


def test_serve_image_is_cuda_onnxruntime_without_torch() -> None:
    pairs = dockerfile("serve.Dockerfile")
    base = re.search(r"CUDA_IMAGE=(\S+)", " ".join(args_of(pairs, "ARG"))).group(1)
    assert base.startswith("nvidia/cuda:") and "cudnn" in base and "runtime" in base
    installs = [r for r in args_of(pairs, "RUN") if "pip install" in r]
    assert any(shlex.split(r.split("&&")[0])[2:] == ["./proto", "./service"] for r in installs), installs
    assert not any(re.search(r"\btorch\b", r.split("&&")[0]) for r in installs)
    assert not any("torch" in dep for dep in SERVICE_PROJECT["dependencies"])
    try:  # the CUDA major of the base image must be the one onnxruntime-gpu was built for
        from onnxruntime.capi import build_and_package_info as ort_build
    except ImportError:
        return
    cuda = getattr(ort_build, "cuda_version", "")
    if cuda:
        assert base.split(":")[1].split(".")[0] == cuda.split(".")[0], f"onnxruntime-gpu wants CUDA {cuda}"


def test_images_run_what_the_makefile_and_readme_document() -> None:
    serve_cmd = exec_form(args_of(dockerfile("serve.Dockerfile"), "CMD")[-1])
    assert serve_cmd == ["python", "-m", "aecodec_service"]
    makefile = (REPO / "Makefile").read_text()
    serve_target = re.search(r"^serve:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "-m aecodec_service" in serve_target
    assert SERVICE_PROJECT["scripts"]["aecodec-serve"].startswith("aecodec_service.__main__:")

    train = dockerfile("train.Dockerfile")
    entry = exec_form(args_of(train, "ENTRYPOINT")[-1])
    assert entry[0] in TRAINING_PROJECT["scripts"], f"{entry[0]} is not a console script of aecodec-training"
    assert any(shlex.split(r.split("&&")[0])[2:] == ["./proto", "./training"] for r in args_of(train, "RUN"))
    command = SERVICES["train"]["command"]
    cli = pytest.importorskip("aecodec_training.cli.app", reason="the training CLI (and torch) are not installed")
    commands = typer.main.get_command(cli.app).commands  # type: ignore[attr-defined]
    assert command[0] in commands, f"compose runs `aecodec-train {command[0]}`, not a training command"
    pin = next(d for d in TRAINING_PROJECT["dependencies"] if d.startswith("torch"))
    assert any(f"pip install {pin}" in r for r in args_of(train, "RUN")), f"train image must install {pin}"

    # the page that documents the deployment shows the same commands
    pages = [p for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))] if p.exists()]
    for page in (p for p in pages if "docker compose up" in p.read_text()):
        text = page.read_text()
        assert "--scale aecodec=" in text and "--profile train" in text, page.name


def test_docker_compose_config_when_the_plugin_is_present() -> None:
    docker = shutil.which("docker")
    if not docker or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker compose plugin is not installed here")
    result = subprocess.run([docker, "compose", "config", "-q"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
