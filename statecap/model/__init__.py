"""Typed records and taxonomies: the vocabulary every layer shares."""

from statecap.model.records import (
    RECORD_TYPES,
    Acquisition,
    Designation,
    Entity,
    Financial,
    Investment,
    JointVenture,
    Observation,
    Partnership,
    PolicyEvent,
    Record,
    Source,
    Spending,
    Stake,
)
from statecap.model.values import Interval

__all__ = [
    "RECORD_TYPES",
    "Acquisition",
    "Designation",
    "Entity",
    "Financial",
    "Interval",
    "Investment",
    "JointVenture",
    "Observation",
    "Partnership",
    "PolicyEvent",
    "Record",
    "Source",
    "Spending",
    "Stake",
]
