"""Benchmarks: each module measures statecap against peers in the same run (see RESULTS.md)."""
