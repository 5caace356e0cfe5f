"""The BenchMaker generation method (Yuan et al., 2025), one module per step."""

from benchmaker.methods.benchmaker.method import BenchMakerMethod

__all__ = ["BenchMakerMethod"]
