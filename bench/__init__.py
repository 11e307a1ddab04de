"""Benchmarks: every figure is measured in the same run as the baseline it is compared to."""
