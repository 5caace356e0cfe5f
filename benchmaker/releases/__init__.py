"""Versioned releases of a benchmark: dedup across versions and public sets, gates, changelog, exports.

``settings`` imports nothing else from benchmaker (``benchmaker.config`` uses it); keep this file free of imports.
"""
