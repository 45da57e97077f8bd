"""What the terminal shows: tables that fit, short UTC times, one lag format."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from tracker.core.terminal import cell, table
from tracker.core.timeutil import lag_text, short_utc


@pytest.mark.parametrize("value, text", [
    (timedelta(minutes=45), "45 min"),
    (pd.Timedelta(minutes=90), "1 h 30 min"),
    (np.timedelta64(2 * 86400 + 3 * 3600, "s"), "2 d 3 h"),
    (timedelta(seconds=-30), "−30 s"),
    (None, "—"),
    (pd.NaT, "—"),
])
def test_lags_read_the_same_everywhere(value, text):
    assert lag_text(value) == text


@pytest.mark.parametrize("value, text", [
    (pd.Timestamp("2022-10-11 14:05", tz="UTC"), "2022-10-11 14:05Z"),
    (pd.Timestamp("2022-10-11 16:05:09", tz="Europe/Paris"), "2022-10-11 14:05:09Z"),
    (pd.NaT, ""),
    (None, ""),
])
def test_times_are_short_and_in_utc(value, text):
    assert short_utc(value) == text


def test_cells_are_one_line_and_cut():
    assert cell("a\nb   c") == "a b c"
    assert cell("x" * 100) == "x" * 59 + "…"
    assert cell(float("nan")) == "" and cell(None) == ""


def render(t, width: int) -> list[str]:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))
    console.print(t)
    return console.export_text().splitlines()


def test_a_wide_result_fits_and_names_the_columns_left_out():
    df = pd.DataFrame([{f"column_{i}": f"value {i} " * 3 for i in range(19)}] * 3)
    lines = render(table(df, width=100), 100)
    assert max(len(line) for line in lines) <= 100
    header = lines[1]
    assert "column_0" in header and "column_18" not in header
    caption = " ".join(lines[-2:])
    assert "columns not shown: " in caption and "column_18" in caption
    assert len(lines) == 3 + 3 + 1 + 2          # borders and header, 3 rows, bottom, caption


def test_a_narrow_result_is_shown_whole():
    df = pd.DataFrame({"at": [pd.Timestamp("2022-10-11 14:05", tz="UTC")], "n": [3],
                       "lag": [pd.Timedelta(minutes=45)]})
    lines = render(table(df, width=100), 100)
    assert lines[3].split("│")[1:4] == [" 2022-10-11 14:05Z ", " 3 ", " 45 min "]
    assert not any("not shown" in line for line in lines)
