"""The store's tables. One table per record type, plus link tables for list-valued fields.

Shares are stored as ``share_lo``/``share_hi`` (0-100) with ``share_kind`` in
(exact, range, unknown). Dates are DATE; open ends are NULL. Amounts stay in their source
currency.
"""

from __future__ import annotations

import duckdb

SCHEMA_VERSION = "1"

# Record-type tables in build order. `record_type` is the name used in record_sources.
TABLES: dict[str, str] = {
    "sources": """
        CREATE TABLE sources (
            id VARCHAR PRIMARY KEY, url VARCHAR NOT NULL, publisher VARCHAR NOT NULL, title VARCHAR NOT NULL,
            accessed DATE, published DATE, kind VARCHAR, confidence VARCHAR, note VARCHAR)""",
    "entities": """
        CREATE TABLE entities (
            id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, name_zh VARCHAR, aliases VARCHAR[], kind VARCHAR NOT NULL,
            country VARCHAR, level VARCHAR, region VARCHAR, uscc VARCHAR, lei VARCHAR, tickers VARCHAR[],
            wikidata VARCHAR, sectors VARCHAR[], description VARCHAR, founded DATE, dissolved DATE,
            confidence VARCHAR, note VARCHAR, origin VARCHAR)""",
    "stakes": """
        CREATE TABLE stakes (
            id VARCHAR PRIMARY KEY, owner VARCHAR NOT NULL, owned VARCHAR NOT NULL,
            share_lo DOUBLE NOT NULL, share_hi DOUBLE NOT NULL, share_kind VARCHAR NOT NULL,
            type VARCHAR NOT NULL, direct BOOLEAN NOT NULL, valid_from DATE, valid_to DATE,
            confidence VARCHAR, note VARCHAR, origin VARCHAR)""",
    "investments": """
        CREATE TABLE investments (
            id VARCHAR PRIMARY KEY, investor VARCHAR NOT NULL, investee VARCHAR, sector VARCHAR,
            mechanism VARCHAR NOT NULL, amount DOUBLE, currency VARCHAR, date DATE, kind VARCHAR,
            confidence VARCHAR, note VARCHAR)""",
    "acquisitions": """
        CREATE TABLE acquisitions (
            id VARCHAR PRIMARY KEY, acquirer VARCHAR NOT NULL, target VARCHAR NOT NULL, announced DATE,
            closed DATE, status VARCHAR NOT NULL, value DOUBLE, currency VARCHAR, stake_acquired DOUBLE,
            blocking_authority VARCHAR, sector VARCHAR, confidence VARCHAR, note VARCHAR)""",
    "joint_ventures": """
        CREATE TABLE joint_ventures (
            id VARCHAR PRIMARY KEY, entity VARCHAR, name VARCHAR NOT NULL, sector VARCHAR,
            valid_from DATE, valid_to DATE, amount DOUBLE, currency VARCHAR, confidence VARCHAR, note VARCHAR)""",
    "spending": """
        CREATE TABLE spending (
            id VARCHAR PRIMARY KEY, entity VARCHAR NOT NULL, year INTEGER NOT NULL, category VARCHAR NOT NULL,
            amount DOUBLE NOT NULL, currency VARCHAR NOT NULL, sector VARCHAR, confidence VARCHAR, note VARCHAR)""",
    "partnerships": """
        CREATE TABLE partnerships (
            id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, name VARCHAR NOT NULL, sector VARCHAR,
            valid_from DATE, valid_to DATE, amount DOUBLE, currency VARCHAR, confidence VARCHAR, note VARCHAR)""",
    "designations": """
        CREATE TABLE designations (
            id VARCHAR PRIMARY KEY, entity VARCHAR NOT NULL, list VARCHAR NOT NULL, start DATE NOT NULL,
            "end" DATE, authority VARCHAR, citation VARCHAR, licence_requirement VARCHAR,
            confidence VARCHAR, note VARCHAR)""",
    "policy_events": """
        CREATE TABLE policy_events (
            id VARCHAR PRIMARY KEY, date DATE NOT NULL, announced DATE, "end" DATE, authority VARCHAR,
            country VARCHAR, kind VARCHAR NOT NULL, title VARCHAR NOT NULL, citation VARCHAR, sectors VARCHAR[],
            rule VARCHAR, confidence VARCHAR, note VARCHAR)""",
    "financials": """
        CREATE TABLE financials (
            id VARCHAR PRIMARY KEY, entity VARCHAR NOT NULL, year INTEGER NOT NULL, currency VARCHAR NOT NULL,
            revenue DOUBLE, net_profit DOUBLE, total_assets DOUBLE, total_liabilities DOUBLE, equity DOUBLE,
            rd_expense DOUBLE, confidence VARCHAR, note VARCHAR)""",
    "observations": """
        CREATE TABLE observations (
            id VARCHAR PRIMARY KEY, series VARCHAR NOT NULL, year INTEGER NOT NULL, value DOUBLE NOT NULL,
            unit VARCHAR NOT NULL, sector VARCHAR, entity VARCHAR, confidence VARCHAR, note VARCHAR)""",
    # Filled by imports (statecap.io): board roles (FtM Directorship), and declared gaps in ownership
    # reporting (GLEIF Level 2 reporting exceptions, BODS relationships with an unspecified party).
    "directorships": """
        CREATE TABLE directorships (
            id VARCHAR PRIMARY KEY, director VARCHAR NOT NULL, organization VARCHAR NOT NULL, role VARCHAR,
            valid_from DATE, valid_to DATE, confidence VARCHAR, note VARCHAR, origin VARCHAR)""",
    "ownership_exceptions": """
        CREATE TABLE ownership_exceptions (
            id VARCHAR PRIMARY KEY, entity VARCHAR NOT NULL, scheme VARCHAR NOT NULL, category VARCHAR,
            reason VARCHAR NOT NULL, description VARCHAR, reference VARCHAR, valid_from DATE, valid_to DATE,
            confidence VARCHAR, note VARCHAR, origin VARCHAR)""",
}

LINK_TABLES: dict[str, str] = {
    "jv_partners": """
        CREATE TABLE jv_partners (
            jv VARCHAR NOT NULL, partner VARCHAR NOT NULL, share_lo DOUBLE NOT NULL, share_hi DOUBLE NOT NULL,
            share_kind VARCHAR NOT NULL)""",
    "partnership_parties": """
        CREATE TABLE partnership_parties (partnership VARCHAR NOT NULL, party VARCHAR NOT NULL, position INTEGER)""",
    "policy_suspensions": """
        CREATE TABLE policy_suspensions (event VARCHAR NOT NULL, "from" DATE NOT NULL, "to" DATE NOT NULL)""",
    "record_sources": """
        CREATE TABLE record_sources (record_type VARCHAR NOT NULL, record_id VARCHAR NOT NULL, source VARCHAR NOT NULL)""",
    # every identifier an entity is known by: uscc, lei, ticker, wikidata, and ids from imports (bods, ftm, gleif)
    "entity_identifiers": """
        CREATE TABLE entity_identifiers (entity VARCHAR NOT NULL, scheme VARCHAR NOT NULL, value VARCHAR NOT NULL)""",
    # normalised search terms (NFKC, casefolded) with a weight: lower is a better match
    "entity_terms": """
        CREATE TABLE entity_terms (entity VARCHAR NOT NULL, term VARCHAR NOT NULL, weight INTEGER NOT NULL)""",
    "meta": """CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
}

COUNTED = (
    "entities",
    "stakes",
    "investments",
    "acquisitions",
    "joint_ventures",
    "spending",
    "partnerships",
    "designations",
    "policy_events",
    "sources",
    "financials",
    "observations",
)


def create_all(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table in an empty database."""
    for ddl in (*TABLES.values(), *LINK_TABLES.values()):
        con.execute(ddl)
