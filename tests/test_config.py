"""config.yaml validation: every error names its path."""

from __future__ import annotations

import pytest

from tracker.config import load_config, parse_config
from tracker.errors import ConfigError


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
