"""Helpers shared by the tests and the benchmark (bench/), importable from the project root."""
