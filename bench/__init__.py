"""Benchmarks: speed and memory figures, measured by `make bench` (never asserted in unit tests)."""
