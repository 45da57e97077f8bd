"""config.yaml validation: every error names its path."""

from __future__ import annotations

import pytest

from tracker.config import load_config, parse_config
from tracker.core.errors import ConfigError


@pytest.mark.parametrize("data, message", [
    ({"accounts": [{"handle": "a"}, {"handle": "b"}, {"handle": "c"}, {"handle": ""}]},
     "accounts[3].handle: must not be empty"),
    ({"accounts": [{"handle": "has space"}]}, "accounts[0].handle: 'has space' is not a valid"),
    ({"accounts": [{"platform": "myspace", "handle": "a"}]}, "accounts[0].platform:"),
    ({"accounts": [{"handle": "a"}, {"handle": "A"}]}, "handle 'A' is listed twice"),
    ({"x": {"max_requests_per_run": 0}}, "x.max_requests_per_run: Input should be greater"),
    ({"x": {"api_base_url": "api.x.com"}}, "x.api_base_url: must be an http(s) URL"),
    ({"x": {"bearer_token_env": "AAAA-secret token"}}, "x.bearer_token_env: must be the NAME"),
    ({"storage": {"databse": "x.duckdb"}}, "storage.databse: unknown key"),
    ({"storage": {"load_memory_limit": "lots"}},
     "storage.load_memory_limit: 'lots' is not a size such as 512MB or 2GB"),
    ({"storage": {"load_memory_limit": "1GB'; DROP TABLE posts; --"}},
     "storage.load_memory_limit: \"1GB'; DROP"),
    ([1, 2], "the top level must be a mapping"),
])
def test_errors_name_the_path(data, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    assert message in str(exc.value)


def test_defaults_and_relative_paths(tmp_path):
    p = tmp_path / "config.yaml"
    p.write_text("accounts:\n  - {platform: x, handle: '@IanBremmer'}\n")
    cfg = load_config(p)
    assert cfg.accounts[0].handle == "IanBremmer"
    assert cfg.database == tmp_path / "data" / "tracker.duckdb"
    assert cfg.replica == tmp_path / "data" / "tracker.read.duckdb"
    assert cfg.raw_dir == tmp_path / "data" / "raw"
    assert (cfg.x.api_base_url, cfg.x.bearer_token_env, cfg.x.max_requests_per_run,
            cfg.x.replies_window_days) == ("https://api.x.com", "X_BEARER_TOKEN", 100, 7)
    assert cfg.storage.load_memory_limit == "384MB"


def test_yaml_syntax_error_names_line(tmp_path):
    p = tmp_path / "config.yaml"
    p.write_text("accounts:\n  - {handle: a\n")
    with pytest.raises(ConfigError, match=r"config.yaml: line \d+, column \d+: invalid YAML"):
        load_config(p)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_repository_config_is_valid():
    from pathlib import Path

    cfg = load_config(Path(__file__).resolve().parents[1] / "config.yaml")
    assert [a.handle for a in cfg.accounts] == ["ianbremmer", "elonmusk"]


BAD_FILES = {
    "binary": (lambda d: bytes(range(256)) * 8, "line 2: not UTF-8 text"),   # byte 10 ends line 1
    "deep-yaml": (lambda d: b"a: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
                  "nested too deeply"),
    "parentheses": (lambda d: (
        "stories:\n  - id: s\n    title: t\n    query: '" + "(" * 300 + "a" + ")" * 300
        + "'\n    window: {start: 2022-10-01, end: 2022-10-31}\n").encode(),
        "stories[0]: query of story 's' does not parse: more than 32 nested parentheses"),
    "raw-dir-is-a-file": (lambda d: (d / "afile").write_text("") or
                          b"storage: {raw_dir: afile}\n",
                          "storage.raw_dir: "),
    "database-is-a-folder": (lambda d: (d / "adir").mkdir() or
                             b"storage: {database: adir}\n", "storage.database: "),
    "billion-days": (lambda d: b"x: {replies_window_days: 1000000000}\n",
                     "x.replies_window_days: Input should be less than or equal to 3650"),
    "infinite-timeout": (lambda d: b"x: {timeout_seconds: .inf}\n",
                         "x.timeout_seconds: Input should be a finite number"),
    "nan-wait": (lambda d: b"x: {max_rate_limit_wait_seconds: .nan}\n",
                 "x.max_rate_limit_wait_seconds: Input should be a finite number"),
    "end-of-time": (lambda d: b"stories:\n  - {id: s, title: t, query: a, window: "
                    b"{start: 2022-10-01, end: 9999-12-31}}\n",
                    "stories[0].window.end: 9999-12-31 is outside 1990-01-01 .. 2199-12-31"),
    "press-query-end": (lambda d: b"press: {queries: [{name: q, query: a, start: 2022-10-01, "
                        b"end: 9999-12-31}]}\n", "press.queries[0].end: 9999-12-31 is outside"),
    "duplicate-key": (lambda d: b"x: {max_requests_per_run: 5}\nx: {max_requests_per_run: 500}"
                      b"\n", "line 2, column 1: invalid YAML: key 'x' is given twice (first on "
                      "line 1)"),
    "duplicate-nested": (lambda d: b"x:\n  page_size: 10\n  page_size: 20\n",
                         "line 3, column 3: invalid YAML: key 'page_size' is given twice"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_hostile_config_files_give_one_clear_error_and_exit_2(tmp_path, name):
    from click.testing import CliRunner

    from tracker.cli import cli

    make, message = BAD_FILES[name]
    path = tmp_path / "config.yaml"
    path.write_bytes(make(tmp_path))
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert message in str(exc.value)
    res = CliRunner().invoke(cli, ["--config", str(path), "status"], obj={})
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and message in res.output.replace("\n", "")
