"""The Fabric build step of `datachannels network up`.

The tests marked `fabric` build the real binaries on first use (minutes on two
cores) into the default cache, so later runs on the same machine take seconds.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from datachannels.network.fabric_build import (
    FABRIC_BINARIES,
    FABRIC_COMMIT,
    FABRIC_MODULE_VERSION,
    FABRIC_VERSION,
    WRAPPER_MODULE_DIR,
    FabricBuildError,
    FabricInstall,
    ensure_fabric_binaries,
)


def test_wrapper_module_requires_the_pinned_pseudo_version() -> None:
    go_mod = (WRAPPER_MODULE_DIR / "go.mod").read_text()
    assert re.search(
        rf"^\s*(require\s+)?github\.com/hyperledger/fabric {re.escape(FABRIC_MODULE_VERSION)}\b",
        go_mod,
        re.MULTILINE,
    )
    assert FABRIC_MODULE_VERSION.endswith(f"-{FABRIC_COMMIT}")
    for name in FABRIC_BINARIES:
        assert f"github.com/hyperledger/fabric/cmd/{name}\n" in go_mod


def test_a_finished_cache_is_returned_without_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / FABRIC_VERSION
    (home / "bin").mkdir(parents=True)
    for name in FABRIC_BINARIES:
        (home / "bin" / name).write_text("#!/bin/sh\n")
        (home / "bin" / name).chmod(0o755)
    (home / "stamp.json").write_text(json.dumps({"module_version": FABRIC_MODULE_VERSION}))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    messages: list[str] = []

    install = ensure_fabric_binaries(tmp_path, progress=messages.append)

    assert install == FabricInstall(home / "bin", home / "config", FABRIC_VERSION)
    assert install.path("peer") == home / "bin" / "peer"
    assert messages == []


def test_binaries_without_a_stamp_are_not_trusted_and_missing_go_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a killed build leaves it: some binaries moved into place, no stamp yet.
    (tmp_path / FABRIC_VERSION / "bin").mkdir(parents=True)
    (tmp_path / FABRIC_VERSION / "bin" / "configtxgen").write_text("#!/bin/sh\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    with pytest.raises(FabricBuildError, match="`go` is not on PATH"):
        ensure_fabric_binaries(tmp_path, progress=lambda message: None)


def test_path_refuses_names_that_are_not_built() -> None:
    install = FabricInstall(Path("/x/bin"), Path("/x/config"), FABRIC_VERSION)
    with pytest.raises(ValueError):
        install.path("fabric-ca-server")


@pytest.fixture(scope="module")
def fabric() -> FabricInstall:
    return ensure_fabric_binaries()


def _version_output(binary: Path) -> str:
    result = subprocess.run(
        [str(binary), "version"], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout + result.stderr


@pytest.mark.fabric
@pytest.mark.parametrize("name", ["peer", "orderer"])
def test_built_binaries_report_the_pinned_version(fabric: FabricInstall, name: str) -> None:
    output = _version_output(fabric.path(name))

    assert re.search(rf"Version: {re.escape(FABRIC_VERSION)}\s", output), output
    assert f"Commit SHA: {FABRIC_COMMIT}" in output, output


@pytest.mark.fabric
def test_sample_config_is_copied_out_writable_and_without_sample_keys(
    fabric: FabricInstall,
) -> None:
    for name in ("core.yaml", "orderer.yaml", "configtx.yaml"):
        assert os.access(fabric.config_dir / name, os.W_OK)
    assert not (fabric.config_dir / "msp").exists()


@pytest.mark.fabric
def test_a_second_call_reuses_the_cache_without_rebuilding(fabric: FabricInstall) -> None:
    mtimes = {name: fabric.path(name).stat().st_mtime_ns for name in FABRIC_BINARIES}
    messages: list[str] = []
    started = time.monotonic()

    again = ensure_fabric_binaries(progress=messages.append)

    assert time.monotonic() - started < 1.0
    assert again == fabric
    assert messages == []
    assert {name: again.path(name).stat().st_mtime_ns for name in FABRIC_BINARIES} == mtimes
