"""Boundaries the design relies on."""

import pkgutil
import subprocess
import sys

import pytest

import benchmaker

# Imports the whole library in fresh interpreters: about 20 s, so not in the fast loop.
pytestmark = pytest.mark.slow


def test_the_library_never_imports_prefect():
    modules = [
        m.name
        for m in pkgutil.walk_packages(benchmaker.__path__, "benchmaker.")
        if m.name != "benchmaker.cli" and not m.name.startswith("benchmaker.cli.")
    ]  # the CLI is the application layer that starts flows
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    code += "print('prefect' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert len(modules) > 20
