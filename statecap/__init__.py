"""statecap: map, measure and simulate state-directed technology investment."""

__version__ = "0.1.0"
