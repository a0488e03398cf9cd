"""Typed records and taxonomies: the vocabulary every layer shares.

Names are loaded on first use (PEP 562), so importing a light submodule such as
``statecap.model.values`` does not pay for building the pydantic record classes.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RECORD_TYPES": "records",
    "Acquisition": "records",
    "Designation": "records",
    "Entity": "records",
    "Financial": "records",
    "Investment": "records",
    "JointVenture": "records",
    "Observation": "records",
    "Partnership": "records",
    "PolicyEvent": "records",
    "Record": "records",
    "Source": "records",
    "Spending": "records",
    "Stake": "records",
    "Interval": "values",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'statecap.model' has no attribute {name!r}")
    return getattr(importlib.import_module(f"statecap.model.{module}"), name)
