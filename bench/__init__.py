"""Benchmarks for Exchange; run from the repository root, never imported by the app."""
