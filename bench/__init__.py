"""The benchmark of bench/README.md: `bench/run.py` (the command) over `bench/harness/`."""
