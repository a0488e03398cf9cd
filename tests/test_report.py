"""The HTML report: every section is there, it references nothing on the network, it shows the
numbers the library computes; and `statecap summary`.

The rule for "no network references" (also in statecap/report/html.py): no element that makes a
browser fetch something (script, link, img, iframe, source, video, audio, embed, object, track,
input) has a src, href, data, srcset or poster attribute pointing at http:, https:, ftp: or a
protocol-relative //host; no CSS url(...) or @import points at one (in style elements or style
attributes). Plain <a href> links to sources are allowed: they fetch nothing by themselves.
"""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytest.importorskip("plotly")
pytest.importorskip("jinja2")

FETCHING_TAGS = {
    "script",
    "link",
    "img",
    "iframe",
    "source",
    "video",
    "audio",
    "embed",
    "object",
    "track",
    "input",
}
FETCHING_ATTRS = {"src", "href", "data", "srcset", "poster"}
NETWORK = re.compile(r"^\s*(https?:|ftp:|//)", re.IGNORECASE)
CSS_NETWORK = re.compile(
    r"(url\(\s*['\"]?\s*(https?:|ftp:|//))|(@import\s+(url\()?\s*['\"]?\s*(https?:|ftp:|//))", re.IGNORECASE
)
SECTION_IDS = (
    "at-a-glance", "capital-by-sector-mechanism", "sankey", "top-firms", "timeline", "indicators",
    "policy-lab", "scenarios", "calibration", "sensitivity", "data", "coverage", "sources",
)  # fmt: skip


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.ids: set[str] = set()
        self.anchors: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if value is None:
                continue
            if tag in FETCHING_TAGS and name in FETCHING_ATTRS:
                for part in value.split(","):
                    if NETWORK.match(part):
                        self.problems.append(f"<{tag} {name}={value!r}>")
            if name == "style" and CSS_NETWORK.search(value):
                self.problems.append(f"<{tag} style={value!r}>")
            if tag == "a" and name == "href":
                self.anchors.append(value)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and CSS_NETWORK.search(data):
            self.problems.append(f"<style> {CSS_NETWORK.search(data).group(0)!r}")  # type: ignore[union-attr]


def scan(text: str) -> _Scan:
    s = _Scan()
    s.feed(text)
    s.close()
    return s


@pytest.mark.parametrize(
    "bad",
    [
        '<script src="https://cdn.plot.ly/plotly-2.0.min.js"></script>',
        '<link rel="stylesheet" href="//fonts.googleapis.com/css">',
        '<img src="HTTP://example.org/x.png">',
        '<img srcset="a.png 1x, https://example.org/b.png 2x">',
        '<style>@import url("https://example.org/x.css");</style>',
        "<style>body{background:url(http://example.org/bg.png)}</style>",
        "<div style=\"background: url('//example.org/x.png')\"></div>",
        '<iframe src="https://example.org"></iframe>',
    ],
)
def test_the_network_check_catches_references(bad):
    assert scan(f"<html><body>{bad}</body></html>").problems


def test_the_network_check_allows_links_and_inline_assets():
    ok = '<a href="https://www.sasac.gov.cn/x">source</a><script>var u = "https://cdn.plot.ly";</script><img src="data:image/png;base64,AA">'
    assert scan(ok).problems == []


def _report(db: Path, out: Path, *extra: str) -> str:
    run_cli("report", "--db", str(db), "--out", str(out), *extra, check=True)
    return out.read_text(encoding="utf-8")


def test_report_on_the_mini_atlas_without_the_lab(mini_db, tmp_path):
    text = _report(mini_db, tmp_path / "r.html", "--no-lab")
    s = scan(text)
    assert s.problems == []
    for sid in SECTION_IDS:
        if sid in ("scenarios", "calibration", "sensitivity"):
            continue
        assert sid in s.ids, sid
    assert "policy-lab" in s.ids and "left out of this report" in text
    # plotly.js is inlined, once
    assert text.count("* plotly.js v") == 1
    assert len(text) > 3_000_000
    # the numbers are the library's: the fund's 300m into chips and 50m into AI (state-attributed)
    flows = json.loads(run_cli("flows", "--db", str(mini_db), "--json", check=True).stdout)
    total = flows["total"]["state_attributed"]
    assert f"{total['lo'] / 1e6:,.2f}m" in text
    # the largest state-controlled firm of the mini atlas is listed under its sector
    assert "Semiconductors" in text


def test_report_bad_as_of_leaves_the_old_file(mini_db, tmp_path):
    out = tmp_path / "r.html"
    out.write_text("old report", encoding="utf-8")
    proc = run_cli("report", "--db", str(mini_db), "--out", str(out), "--as-of", "2024-02-30")
    assert proc.returncode == 2 and "--as-of" in proc.stderr
    assert out.read_text(encoding="utf-8") == "old report"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".r.html")]


@pytest.mark.slow
def test_report_on_the_builtin_atlas_has_every_section_and_no_network_reference(builtin_db, tmp_path):
    out = tmp_path / "report.html"
    text = _report(builtin_db, out, "--runs", "20", "--sobol-n", "4")
    s = scan(text)
    assert s.problems == [], s.problems[:5]
    missing = [sid for sid in SECTION_IDS if sid not in s.ids]
    assert missing == []
    # one chart per figure div, each drawn by the inlined plotly.js
    assert text.count('class="plotly-graph-div"') >= 8
    for name in json.loads(run_cli("scenarios", "--json", check=True).stdout)["scenarios"]:
        assert name["name"] in text
    assert "holdout RMSE" in text and "pp" in text
    assert "Sobol" in text and 'id="fig-sobol-0"' in text
    # sources are plain links a reader can follow, not fetched
    assert any(a.startswith("https://") for a in s.anchors)
    assert hashlib.sha256(text.encode()).hexdigest()  # written in full


def test_summary_keeps_its_keys_and_adds_the_largest_state_shares(mini_db):
    data = json.loads(run_cli("summary", "--db", str(mini_db), "--json", check=True).stdout)
    for key in (
        "counts",
        "unsourced_records",
        "entity_kinds",
        "sectors",
        "designation_lists",
        "top_publishers",
        "store",
    ):
        assert key in data
    top = data["top_state_shares"]
    assert top[0]["id"] == "cn-fund" and top[0]["state_share"] == {"lo": 100.0, "hi": 100.0}
    chipco = next(r for r in top if r["id"] == "cn-chipco")
    assert chipco["state_share"] == {"lo": 20.0, "hi": 20.0}
    assert all(r["id"] not in ("cn-organ-a", "cn-organ-b") for r in top)
    text = run_cli("summary", "--db", str(mini_db), check=True).stdout
    assert "largest state shares" in text and "ChipCo Semiconductor" in text
