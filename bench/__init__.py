"""Benchmarks of lmpairs against its ceilings and peers; `python -m bench.run_all` runs them all.

Every figure is a ratio measured side by side in one run (timings on shared machines drift), repeated,
the median quoted. Each script also runs alone, e.g. ``python -m bench.transforms --quick``.
"""
