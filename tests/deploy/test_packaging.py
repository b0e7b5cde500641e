"""One distribution per top-level part, so a serving install has no training command and no torch."""

from __future__ import annotations

import re
import subprocess
import venv
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")

REPO = Path(__file__).resolve().parents[2]
# folder -> (distribution, import package, console scripts)
PARTS = {
    "proto": ("aecodec-wire", "aecodec_wire", set()),
    "service": ("aecodec-service", "aecodec_service", {"aecodec-serve"}),
    "training": ("aecodec-training", "aecodec_training", {"aecodec-train"}),
    "clients/sdk": ("aecodec-sdk", "aecodec_sdk", {"aecodec"}),
}


def project(folder: str) -> dict:
    return tomllib.loads((REPO / folder / "pyproject.toml").read_text())


def test_each_part_is_its_own_distribution_with_only_its_own_commands() -> None:
    for folder, (name, package, scripts) in PARTS.items():
        config = project(folder)
        meta = config["project"]
        assert meta["name"] == name, folder
        assert config["tool"]["setuptools"]["packages"]["find"]["include"] == [f"{package}*"], folder
        assert (REPO / folder / package / "__init__.py").is_file(), folder
        assert set(meta.get("scripts", {})) == scripts, folder
        for target in meta.get("scripts", {}).values():
            assert target.split(".")[0] == package, f"{folder}: {target} is not in {package}"


def test_the_root_is_no_distribution() -> None:
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "project" not in root, "the root must not install service and training as one distribution"
    assert root["tool"]["mypy"]["warn_unused_ignores"] is True


def test_torch_only_where_training_needs_it() -> None:
    def torch_pins(folder: str) -> list[str]:
        return [d for d in project(folder)["project"]["dependencies"] if re.match(r"torch\b", d)]

    assert torch_pins("training") == ["torch==2.13.0"]
    for folder in ("proto", "service", "clients/sdk"):
        assert torch_pins(folder) == [], folder


def test_makefile_serving_install_is_wire_and_service_only() -> None:
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^install-serve:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "no install-serve target"
    assert re.findall(r"-e\s+(\S+)", recipe.group(1)) == ["./proto", "./service"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_serving_install_has_aecodec_serve_and_no_aecodec_train(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python, bin_dir = env_dir / "bin" / "python", env_dir / "bin"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(REPO / "proto"),
         str(REPO / "service")],
        capture_output=True, text=True, timeout=540,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    assert (bin_dir / "aecodec-serve").exists()
    assert not (bin_dir / "aecodec-train").exists()
    probe = "import importlib.util as u; print([m for m in ('torch', 'aecodec_training') if u.find_spec(m)])"
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    entry = "from aecodec_service.__main__ import main; import aecodec_service.main"
    loads = subprocess.run([str(python), "-c", entry], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert loads.returncode == 0, loads.stderr[-2000:]
