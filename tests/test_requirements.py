"""requirements.txt: Community Cloud (Linux x86_64, Python 3.12/3.13) gets PyTorch's CPU wheel by
URL; every other machine, this one included, gets the registry's torch==2.13.0."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
CPU_WHEEL = "https://download.pytorch.org/whl/cpu/torch-2.13.0%2Bcpu-cp{v}-cp{v}-manylinux_2_28_x86_64.whl"


def requirements(path: Path = ROOT / "requirements.txt") -> list[Requirement]:
    lines = [line.split(" #")[0].strip() for line in path.read_text().splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith("#")]


def torch_for(environment: dict[str, str]) -> list[str]:
    """The torch requirement(s) pip would use on a machine described by ``environment``."""
    chosen = [r for r in requirements() if r.name == "torch" and (r.marker is None or r.marker.evaluate(environment))]
    return [r.url or str(r.specifier) for r in chosen]


def linux_x86_64(python: str) -> dict[str, str]:
    return {"sys_platform": "linux", "platform_machine": "x86_64", "python_version": python,
            "python_full_version": python + ".0", "platform_system": "Linux", "os_name": "posix",
            "implementation_name": "cpython"}


@pytest.mark.parametrize("python, tag", [("3.12", "312"), ("3.13", "313")])
def test_community_cloud_gets_the_cpu_wheel(python, tag):
    assert torch_for(linux_x86_64(python)) == [CPU_WHEEL.format(v=tag)]


@pytest.mark.parametrize("environment", [
    linux_x86_64("3.11"), linux_x86_64("3.14"),
    {**linux_x86_64("3.12"), "platform_machine": "aarch64"},
    {**linux_x86_64("3.12"), "sys_platform": "darwin", "platform_machine": "arm64"},
    {**linux_x86_64("3.13"), "sys_platform": "win32", "platform_machine": "AMD64"},
], ids=["linux-3.11", "linux-3.14", "linux-arm", "mac", "windows"])
def test_every_other_machine_gets_exactly_the_registry_torch(environment):
    assert torch_for(environment) == ["==2.13.0"]


def test_this_machine_installs_the_registry_torch():
    here = {"sys_platform": sys.platform, "platform_machine": platform.machine(),
            "python_version": f"{sys.version_info.major}.{sys.version_info.minor}"}
    expected = (["==2.13.0"] if here["python_version"] not in ("3.12", "3.13")
                or here["sys_platform"] != "linux" or here["platform_machine"] != "x86_64" else None)
    if expected is None:
        pytest.skip("this machine is a Community Cloud look-alike: it gets the CPU URL")
    assert torch_for(here) == expected


def test_no_option_lines_that_would_apply_to_every_machine():
    text = (ROOT / "requirements.txt").read_text()
    for option in ("--index-url", "--extra-index-url", "--find-links", "-i ", "-f "):
        assert not any(line.strip().startswith(option) for line in text.splitlines()), option
    names = [r.name for r in requirements()]
    assert sorted(set(names)) == ["altair", "numpy", "pandas", "safetensors", "scipy", "streamlit", "torch"]
