"""Benchmarks of the CX hub against real servers: `make bench` (see bench/README.md)."""
