"""Operator commands: the `citypoints` console (cli.py), the demo city, benchmarks."""
