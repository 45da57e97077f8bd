"""The press commands, the press queries of docs/press.md on a demo database, and the demo's articles."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from tests.denials_demo import cli_demo, demo_copy
from tracker.cli import cli
from tracker.testing.press import GDELT_PATH

from .conftest import fixture_bytes

ROOT = Path(__file__).resolve().parents[3]
PRESS_DOC = ROOT / "docs" / "press.md"
UTC = timezone.utc


def invoke(*args):
    return CliRunner().invoke(cli, list(args), obj={}, catch_exceptions=False)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    d, output = demo_copy(tmp_path_factory, "press-demo")
    assert "Articles" in output
    return d


def sql(demo_dir, query):
    res = invoke("--config", str(demo_dir / "config.yaml"), "sql", "--format", "json", "--",
                 query)
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in res.output.splitlines() if line.strip()]


def press_queries() -> list[str]:
    text = PRESS_DOC.read_text(encoding="utf-8")
    section = text.split("## Press example queries", 1)[1].split("\n#", 1)[0]
    return [q.strip().rstrip(";") for q in re.findall(r"```sql\n(.*?)```", section, re.S)]


def test_readme_has_two_press_queries():
    assert len(press_queries()) == 2


# The demo names two publications in press.outlets; a query reading articles.outlet alone (the
# publication's own name, which no sample page or feed item gives) shows their domains.
DEMO_OUTLETS = {"Business Insider": "businessinsider.com", "VICE News": "vice.com"}


def outlet(name: str, query: str) -> str:
    return name if "article_outlets" in query else DEMO_OUTLETS.get(name, name)


def test_readme_press_query_1_who_ran_it_first(demo_dir):
    query = press_queries()[0]
    got = sql(demo_dir, query)
    assert len(got) == 15
    assert [(g["outlet"], g["sources"]) for g in got[:2]] == [
        (outlet("Business Insider", query), "feed:Business Insider, gdelt:musk-putin"),
        ("kyivindependent.com", "gdelt:musk-putin")]
    assert got[0]["reported_at"].startswith("2022-10-03T18:48:00")
    assert got[-1]["outlet"] == "politico.eu"
    assert sum("feed:" in g["sources"] for g in got) == 7
    assert all("gdelt:musk-putin" in g["sources"] for g in got)


def test_readme_press_query_2_coverage_around_the_denial(demo_dir):
    query = press_queries()[1]
    got = sql(demo_dir, query)
    assert [(g["outlet"], g["before_denial"], g["after_denial"]) for g in got] == [
        (outlet(o, query), before, after) for o, before, after in [
            ("Business Insider", 2, 2), ("newsweek.com", 0, 1), ("fortune.com", 0, 1),
            ("VICE News", 2, 1), ("thehill.com", 0, 1), ("theguardian.com", 1, 1),
            ("spiegel.de", 0, 1), ("politico.eu", 0, 1), ("kyivindependent.com", 1, 0)]]
    assert got[0]["first_after_denial"] is not None


def test_demo_articles_appear_at_their_phase_without_duplicates(demo_dir):
    got = sql(demo_dir, """
        SELECT strftime(first_seen_at, '%Y-%m-%d %H:%M') AS phase, count(*) AS n
        FROM articles GROUP BY 1 ORDER BY 1""")
    assert [(g["phase"], g["n"]) for g in got] == [
        ("2022-10-03 23:30", 3), ("2022-10-04 18:00", 1), ("2022-10-11 14:28", 3),
        ("2022-10-11 18:00", 5), ("2022-10-12 09:00", 3)]
    assert sql(demo_dir, "SELECT count(*) AS n, count(DISTINCT url) AS d FROM articles") == [
        {"n": 15, "d": 15}]
    assert sql(demo_dir, "SELECT source_kind, count(*) AS n FROM article_sources "
                         "GROUP BY 1 ORDER BY 1") == [
        {"source_kind": "feed", "n": 7}, {"source_kind": "gdelt", "n": 15}]
    runs = sql(demo_dir, "SELECT status, count(*) AS n FROM runs WHERE job = 'collect_press' "
                         "GROUP BY 1")
    assert runs == [{"status": "ok", "n": 6}]
    # feeds unchanged between phases answer 304
    assert sql(demo_dir, "SELECT count(*) AS n FROM raw_pages WHERE http_status = 304") == [
        {"n": 4}]


def test_press_list_filters_and_formats(demo_dir, tmp_path):
    cfg = str(demo_dir / "config.yaml")
    res = invoke("--config", cfg, "press", "list", "--since", "2022-10-11", "--outlet",
                 "insider", "--format", "csv")
    assert res.exit_code == 0, res.output
    df = pd.read_csv(pd.io.common.StringIO(res.output))
    assert list(df.columns) == ["reported_at", "clock", "outlet", "title", "sources", "url"]
    bi = "https://www.businessinsider.com/"
    assert df["url"].tolist() == [
        bi + "elon-musk-spoke-putin-before-ukraine-peace-plan-bremmer-2022-10",
        bi + "elon-musk-denies-putin-talks-ukraine-ian-bremmer-2022-10",
        bi + "ian-bremmer-stands-by-musk-putin-account-2022-10"]
    res = invoke("--config", cfg, "press", "list", "--source", "gdelt", "--until",
                 "2022-10-04T00:00:00Z", "--format", "json")
    lines = [json.loads(x) for x in res.output.splitlines()]
    assert [x["clock"] for x in lines] == ["published", "gdelt seen", "gdelt seen"]
    out = tmp_path / "all.csv"
    res = invoke("--config", cfg, "press", "list", "--format", "csv", "-o", str(out))
    assert res.exit_code == 0 and len(pd.read_csv(out)) == 15
    res = invoke("--config", cfg, "press", "list", "--outlet", "vice")
    assert res.exit_code == 0 and "VICE News" in res.output
    assert invoke("--config", cfg, "press", "list", "--outlet", "nobody").output.strip() == (
        "no articles match")
    res = invoke("--config", cfg, "press", "list", "--since", "last tuesday")
    assert res.exit_code == 2 and "is not a date" in res.output


def test_collect_press_command_reports_feeds_queries_and_failures(pworld, papi, tmp_path):
    pworld.put_feed("/rss", fixture_bytes("rss2sample.xml"))
    pworld.put_page("/news", fixture_bytes("notafeed.html"))
    now = datetime.now(UTC).replace(microsecond=0)
    pworld.add_articles("q", [{"url": "https://a.example/1", "title": "One",
                               "seendate": (now - timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ"),
                               "domain": "a.example", "language": "English",
                               "sourcecountry": "France"}])
    path = tmp_path / "config.yaml"
    press = {"feeds": [{"name": "Liftoff", "url": papi + "/rss"}],
             "queries": [{"name": "q", "query": "q",
                          "start": (now - timedelta(days=1)).date().isoformat()}],
             "gdelt": {"api_base_url": papi + GDELT_PATH, "min_interval_seconds": 0}}
    path.write_text(yaml.safe_dump({"storage": {"database": "db/t.duckdb", "raw_dir": "raw"},
                                    "press": press}))
    res = invoke("--config", str(path), "collect", "press")
    assert res.exit_code == 0, res.output
    assert "feed Liftoff: 4 entries" in res.output
    assert "GDELT q: 1 articles in 1 windows, " in res.output
    res = invoke("--config", str(path), "collect", "press", "--feed", "liftoff")
    assert res.exit_code == 0 and "feed Liftoff: not modified (304)" in res.output
    assert "GDELT" not in res.output
    res = invoke("--config", str(path), "collect", "press", "--feed", "Nope")
    assert res.exit_code == 2 and "press.feeds: no feed named 'Nope'" in res.output
    press["feeds"].append({"name": "Homepage", "url": papi + "/news"})
    path.write_text(yaml.safe_dump({"storage": {"database": "db/t.duckdb", "raw_dir": "raw"},
                                    "press": press}))
    res = invoke("--config", str(path), "collect", "press", "--no-gdelt")
    assert res.exit_code == 1
    assert "failed: feed 'Homepage': " in res.output and "not a feed" in res.output


def test_collect_press_with_nothing_configured_is_a_config_error(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("accounts: []\n")
    res = invoke("--config", str(path), "collect", "press")
    assert res.exit_code == 2
    assert "press: nothing to collect" in res.output
    assert not (tmp_path / "data" / "raw").exists()


@pytest.mark.parametrize("press,message", [
    ({"feeds": [{"name": "A", "url": "https://a.example/rss"}, {"name": "B", "url": "a.rss"}]},
     "press.feeds[1].url: must be an http(s) URL such as https://feeds.example.com/rss"),
    ({"feeds": [{"name": "A", "url": "https://a.example/rss"},
                {"name": "a", "url": "https://b.example/rss"}]},
     "press.feeds: feeds[1].name: 'a' is used twice"),
    ({"feeds": [{"name": "A", "link": "https://a.example/rss"}]},
     "press.feeds[0].link: unknown key"),
    ({"queries": [{"name": "q", "query": "x", "start": "2022-10-11", "end": "2022-10-01"}]},
     "press.queries[0]: end is before start"),
    ({"gdelt": {"max_records": 500}},
     "press.gdelt.max_records: Input should be less than or equal to 250"),
])
def test_press_config_errors_name_the_path(tmp_path, press, message):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"press": press}))
    res = invoke("--config", str(path), "press", "list")
    assert res.exit_code == 2
    assert message in res.output


def test_readme_demo_commands_pass(demo_dir, monkeypatch):
    """docs/press.md's "Try it on the demo's database" lines, against the demo built above."""
    import shlex

    text = PRESS_DOC.read_text(encoding="utf-8")
    block = text.split("Try it on the demo's database", 1)[1].split("```bash\n", 1)[1]
    lines = [ln for ln in block.split("```", 1)[0].splitlines() if ln.startswith("tracker ")]
    assert lines[0] == "tracker demo" and len(lines) == 5
    monkeypatch.chdir(ROOT)                           # the fixture paths are repo-relative
    outputs = []
    for line in lines[1:]:
        args = shlex.split(line.replace("data/demo/", f"{demo_dir}/"))[1:]
        res = invoke(*args)
        assert res.exit_code == 0, (line, res.output)
        outputs.append(res.output)
    assert "Insider" in outputs[0] and "VICE" not in outputs[0]
    assert "no publication date on the page" in outputs[1]
    [manual] = [json.loads(x) for x in outputs[2].splitlines()]
    assert (manual["url"], manual["clock"]) == ("https://wire.example.com/live/musk-bremmer",
                                                "first seen")
    assert "manual" in outputs[3]


def test_the_demo_prints_and_reports_the_claim_report_updated_with_the_denial(
        demo_dir, tmp_path_factory):
    """VICE News' claim report was first seen carrying the denial at 09:00 the next day; the
    version before it was last seen at 18:00: the demo prints the row, the report's press
    follow-up says so."""
    rows = sql(demo_dir, "SELECT outlet, strftime(claim_report_denial_at, '%Y-%m-%d %H:%M') AS "
                         "at, strftime(claim_report_denial_after, '%Y-%m-%d %H:%M') AS after "
                         "FROM press_followup WHERE claim_report_denial_at IS NOT NULL")
    assert rows == [{"outlet": "VICE News", "at": "2022-10-12 09:00",
                     "after": "2022-10-11 18:00"}]
    output = cli_demo(tmp_path_factory)[1]
    section = output.split("Claim reports updated with the denial", 1)[1].split("\n\n", 1)[0]
    assert "VICE News" in section and "2022-10-12" in section
    report = (demo_dir / "report.html").read_text(encoding="utf-8")
    assert ("claim report updated by 2022-10-12 09:00 UTC (after 2022-10-11 18:00 UTC)"
            in report)
