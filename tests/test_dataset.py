"""Dataset validation: every check reports file, line, record and field; good data loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statecap.errors import DataError
from statecap.model.dataset import load_dataset

from .conftest import MINI


def write(path: Path, records) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    records = json.loads(json.dumps(records))  # no shared objects, so no YAML anchors
    path.write_text(yaml.safe_dump(records, allow_unicode=True, sort_keys=False), encoding="utf-8")


def problems_for(directory: Path) -> list:
    with pytest.raises(DataError) as info:
        load_dataset(directory)
    return info.value.problems


def test_mini_loads():
    ds = load_dataset(MINI)
    assert ds.counts()["entities"] == 8
    assert ds.counts()["stakes"] == 6


def add(directory: Path, folder: str, rec: dict) -> Path:
    path = directory / folder / "zz_bad.yaml"
    write(path, [rec])
    return path


STAKE = {"owner": "cn-organ-a", "owned": "cn-aico", "share": 10, "sources": ["src-test"]}


@pytest.mark.parametrize(
    ("folder", "record", "field", "reason_part"),
    [
        ("stakes", {**STAKE, "owner": "cn-nobody"}, "owner", "unknown entity id 'cn-nobody'"),
        ("stakes", {**STAKE, "share": 140}, "share", "outside 0-100"),
        ("stakes", {**STAKE, "share": [40, 20]}, "share", "greater than maximum"),
        ("stakes", {**STAKE, "valid_from": "2020", "valid_to": "2019"}, "valid_to", "before valid_from"),
        ("stakes", {**STAKE, "sources": []}, "sources", "no source"),
        ("stakes", {**STAKE, "sources": ["src-missing"]}, "sources[0]", "unknown source id"),
        ("stakes", {**STAKE, "shaer": 10}, "shaer", "unknown field"),
        ("stakes", {**STAKE, "owner": "cn-aico"}, None, "in itself"),
        (
            "entities",
            {"id": "cn-x", "name": "X", "kind": "martian", "sources": ["src-test"]},
            "kind",
            "unknown entity kind",
        ),
        (
            "entities",
            {"id": "cn-x", "name": "X", "kind": "company", "sectors": ["cooking"], "sources": ["src-test"]},
            "sectors[0]",
            "unknown sector code",
        ),
        (
            "entities",
            {"id": "cn-chipco", "name": "Dup", "kind": "company", "sources": ["src-test"]},
            "id",
            "duplicate entities id",
        ),
        (
            "entities",
            {"id": "CN Bad Id", "name": "X", "kind": "company", "sources": ["src-test"]},
            "id",
            "must be lowercase",
        ),
        (
            "investments",
            {
                "investor": "cn-fund",
                "investee": "cn-aico",
                "mechanism": "magic",
                "amount": 5,
                "currency": "CNY",
                "date": "2020",
                "sources": ["src-test"],
            },
            "mechanism",
            "unknown mechanism",
        ),
        (
            "designations",
            {"entity": "cn-aico", "list": "naughty_list", "start": "2020", "sources": ["src-test"]},
            "list",
            "unknown designation list",
        ),
    ],
)
def test_each_check_names_file_record_field(mini_dir, folder, record, field, reason_part):
    path = add(mini_dir, folder, record)
    probs = problems_for(mini_dir)
    assert probs, "expected a problem"
    p = next((p for p in probs if reason_part in p.reason), None)
    assert p is not None, [str(x) for x in probs]
    assert p.file == str(path)
    assert p.line == 1
    if field is not None:
        assert p.field == field
    assert p.record is not None
    assert str(path) in str(p) and reason_part in str(p)


def test_stakes_over_100_percent_rejected_but_time_aware(mini_dir):
    # cn-fund is held 60 + 40; another 5% at the same time is too much
    add(mini_dir, "stakes", {"owner": "cn-founder", "owned": "cn-fund", "share": 5, "sources": ["src-test"]})
    probs = problems_for(mini_dir)
    assert any("add up to 105%" in p.reason and p.field == "share" for p in probs), [str(p) for p in probs]


def test_stakes_over_100_percent_at_different_times_are_fine(mini_dir):
    write(
        mini_dir / "stakes" / "zz_time.yaml",
        [
            {
                "owner": "cn-organ-a",
                "owned": "cn-founder",
                "share": 80,
                "valid_to": "2018",
                "sources": ["src-test"],
            },
            {
                "owner": "cn-organ-b",
                "owned": "cn-founder",
                "share": 80,
                "valid_from": "2018",
                "sources": ["src-test"],
            },
        ],
    )
    load_dataset(mini_dir)


def test_stake_sum_tolerance(mini_dir):
    write(
        mini_dir / "stakes" / "zz_round.yaml",
        [
            {"owner": "cn-organ-a", "owned": "cn-founder", "share": 50.2, "sources": ["src-test"]},
            {"owner": "cn-organ-b", "owned": "cn-founder", "share": 50.2, "sources": ["src-test"]},
        ],
    )
    load_dataset(mini_dir)  # 100.4 is within the 0.5 pp rounding tolerance


def test_yaml_syntax_error_has_line(mini_dir):
    (mini_dir / "stakes" / "zz_broken.yaml").write_text("- owner: a\n  owned: [b\n", encoding="utf-8")
    probs = problems_for(mini_dir)
    assert any("YAML syntax error" in p.reason and p.line is not None for p in probs)


def test_not_utf8(mini_dir):
    (mini_dir / "entities" / "zz_latin1.yaml").write_bytes("- id: cn-caf\xe9\n".encode("latin-1"))
    probs = problems_for(mini_dir)
    assert any("UTF-8" in p.reason for p in probs)


def test_aliases_refused(mini_dir):
    (mini_dir / "entities" / "zz_alias.yaml").write_text(
        "- &a {id: cn-q, name: Q, kind: company, sources: [src-test]}\n- *a\n", encoding="utf-8"
    )
    probs = problems_for(mini_dir)
    assert any("aliases" in p.reason for p in probs)


def test_not_a_list(mini_dir):
    (mini_dir / "entities" / "zz_map.yaml").write_text("id: cn-q\nname: Q\n", encoding="utf-8")
    probs = problems_for(mini_dir)
    assert any("list of records" in p.reason for p in probs)


def test_unknown_folder(mini_dir):
    (mini_dir / "stakez").mkdir()
    probs = problems_for(mini_dir)
    assert any("unknown record folder" in p.reason for p in probs)


def test_all_problems_reported_at_once(mini_dir):
    (mini_dir / "stakes" / "zz_many.yaml").write_text(
        "- {owner: cn-nobody-1, owned: cn-aico, share: 10, sources: [src-test]}\n"
        "# a comment line\n"
        "- {owner: cn-nobody-2, owned: cn-founder, share: 10, sources: [src-test]}\n",
        encoding="utf-8",
    )
    probs = problems_for(mini_dir)
    assert {p.line for p in probs if "unknown entity" in p.reason} == {1, 3}


# --- property: random valid datasets always load, and the loader keeps every record -------------

ids = st.integers(min_value=0, max_value=9)


@st.composite
def random_dataset(draw):
    n = draw(st.integers(2, 10))
    entities = [
        {
            "id": f"cn-e{i}",
            "name": f"Entity {i}",
            "kind": draw(st.sampled_from(["company", "state_organ", "central_soe"])),
            "sources": ["src-a"],
        }
        for i in range(n)
    ]
    stakes = []
    room = {i: 100.0 for i in range(n)}
    for _ in range(draw(st.integers(0, 15))):
        a, b = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        if a == b or any(s["owner"] == f"cn-e{a}" and s["owned"] == f"cn-e{b}" for s in stakes):
            continue
        share = draw(st.one_of(st.floats(0, room[b]), st.just("unknown")))
        if share != "unknown":
            room[b] -= share
        stakes.append({"owner": f"cn-e{a}", "owned": f"cn-e{b}", "share": share, "sources": ["src-a"]})
    return entities, stakes


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(random_dataset())
def test_random_valid_datasets_load(tmp_path, data):
    entities, stakes = data
    root = tmp_path / f"ds{abs(hash(str(data)))}"
    shutil.rmtree(root, ignore_errors=True)
    write(
        root / "sources" / "s.yaml",
        [
            {
                "id": "src-a",
                "url": "https://a.example",
                "publisher": "p",
                "title": "t",
                "accessed": "2026-01-01",
            }
        ],
    )
    write(root / "entities" / "e.yaml", entities)
    write(root / "stakes" / "s.yaml", stakes)
    ds = load_dataset(root)
    assert ds.counts()["entities"] == len(entities)
    assert ds.counts()["stakes"] == len(stakes)


def test_overlapping_records_of_one_holding_rejected(mini_dir):
    add(mini_dir, "stakes", {"owner": "cn-fund", "owned": "cn-chipco", "share": 25, "valid_from": "2019",
                             "sources": ["src-test"]})  # fmt: skip
    probs = problems_for(mini_dir)
    assert any("overlaps stake:cn-fund:cn-chipco:equity:2015-01-01" in p.reason for p in probs), [
        str(p) for p in probs
    ]


def test_consecutive_records_of_one_holding_are_fine(mini_dir):
    path = mini_dir / "stakes" / "test.yaml"
    text = path.read_text().replace(
        '{owner: cn-fund, owned: cn-chipco, share: 20, valid_from: "2015-01-01", sources: [src-test]}',
        '{owner: cn-fund, owned: cn-chipco, share: 20, valid_from: "2015-01-01", valid_to: "2019", sources: [src-test]}',
    )
    path.write_text(text)
    add(mini_dir, "stakes", {"owner": "cn-fund", "owned": "cn-chipco", "share": 25, "valid_from": "2019",
                             "sources": ["src-test"]})  # fmt: skip
    load_dataset(mini_dir)
