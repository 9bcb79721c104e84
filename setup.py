"""Build hook: ship the top-level `scenarios/` catalogue inside the package.

`scenarios/*.yaml` at the top of the source tree stay the one source of truth (readable, linked
from the docs, schema-checked by editors). A regular (non-editable) build copies them into
`sandbox/scenarios/bundled/` in the wheel, where `sandbox.scenarios.loader.bundled_dir()` finds
them when there is no source tree. Editable installs read the source tree directly.
Everything else about the build lives in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CATALOGUE = Path(__file__).resolve().parent / "scenarios"
PACKAGED = ("sandbox", "scenarios", "bundled")


class BuildPyWithCatalogue(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib).joinpath(*PACKAGED)
        self.mkpath(str(target))
        for path in sorted(CATALOGUE.glob("*.yaml")):
            self.copy_file(str(path), str(target / path.name))


setup(cmdclass={"build_py": BuildPyWithCatalogue})
