"""Pure kernels on matrices: ownership, control, screening rules, flows, indicators."""
