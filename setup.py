"""The build steps pyproject.toml cannot declare: GraphiQL's files (gateway/vendor_assets.py)
and the prepared airport table (resolvers/reference_data.py)."""

import importlib.util
import os
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def _by_path(name: str, relative: str):
    """A module of this source tree, loaded by path: nothing is installed yet."""
    spec = importlib.util.spec_from_file_location(name, HERE / relative)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


vendor_assets = _by_path("vendor_assets", "gateway/vendor_assets.py")
reference_data = _by_path("reference_data", "resolvers/reference_data.py")


class BuildWithGraphiQL(build_py):
    def run(self) -> None:
        # A build for a server without a browser UI (e.g. serverless) may skip GraphiQL.
        if not os.environ.get("DATACHANNELS_WITHOUT_GRAPHIQL"):
            vendor_assets.fetch()
        try:
            reference_data.write()
        except OSError as error:  # a read-only source tree: geo reads airportsdata itself
            print(f"warning: no prepared airport table ({error}); it is optional")
        super().run()


setup(cmdclass={"build_py": BuildWithGraphiQL})
