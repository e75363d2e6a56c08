"""The one build step pyproject.toml cannot declare: GraphiQL's files (gateway/vendor_assets.py)."""

import importlib.util
import os
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

_spec = importlib.util.spec_from_file_location(
    "vendor_assets", Path(__file__).resolve().parent / "gateway" / "vendor_assets.py"
)
assert _spec and _spec.loader
vendor_assets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vendor_assets)


class BuildWithGraphiQL(build_py):
    def run(self) -> None:
        # A build for a server without a browser UI (e.g. serverless) may skip GraphiQL.
        if not os.environ.get("DATACHANNELS_WITHOUT_GRAPHIQL"):
            vendor_assets.fetch()
        super().run()


setup(cmdclass={"build_py": BuildWithGraphiQL})
