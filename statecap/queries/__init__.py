"""Questions answered from the store: read records, call the kernels, return plain results.

One function answers one question; the CLI, the API and the report all call the same one.
"""
