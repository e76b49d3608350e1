"""pacsadmin.core.format: every value shown to people, malformed ones included."""

from __future__ import annotations

import locale
from datetime import datetime

import pytest
from pydicom.valuerep import PersonName

from pacsadmin.core import format as fmt


@pytest.fixture(autouse=True)
def iso_style():
    old = fmt.date_style()
    fmt.configure("iso")
    yield
    fmt.configure(old)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("DOE^JOHN", "DOE, JOHN"),
        ("Doe^John^Albert", "DOE, John Albert"),
        ("Doe^John^Albert^Dr.^Jr.", "DOE, Dr. John Albert, Jr."),
        ("Doe", "DOE"),
        ("^John", "John"),
        ("^^^^III", "III"),
        ("", ""),
        ("^^^^", ""),
        ("  Doe ^ John  ", "DOE, John"),
        ("Yamada^Tarou=山田^太郎=やまだ^たろう", "YAMADA, Tarou"),
        ("=山田^太郎=やまだ^たろう", "山田, 太郎"),
        ("==やまだ^たろう", "やまだ, たろう"),
        ("A^B^C^D^E^F^G", "A, D B C, E F G"),  # too many components: kept in the suffix
        ("a=b=c=d", "A"),  # a fourth group is ignored
    ],
)
def test_person_names(raw: str, shown: str) -> None:
    assert fmt.format_pn(raw) == shown


def test_person_name_groups_and_objects() -> None:
    pn = PersonName("Yamada^Tarou=山田^太郎=やまだ^たろう")
    assert fmt.format_pn(pn) == "YAMADA, Tarou"
    assert fmt.format_pn(pn, all_groups=True) == "YAMADA, Tarou (山田, 太郎 / やまだ, たろう)"
    assert fmt.format_pn("Doe^John", upper_family=False) == "Doe, John"
    assert fmt.format_pn(None) == ""


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("20240305", "2024-03-05"),
        ("2024.03.05", "2024-03-05"),  # ACR-NEMA
        (" 20240305 ", "2024-03-05"),
        ("20240305-20240310", "2024-03-05 – 2024-03-10"),
        ("20240305-", "2024-03-05 –"),
        ("-20240310", "– 2024-03-10"),
        ("20241301", "20241301"),  # month 13: raw
        ("20240230", "20240230"),  # 30 February: raw
        ("2024030", "2024030"),
        ("yesterday", "yesterday"),
        ("", ""),
        ("-", "-"),
        ("2024-03-05", "2024-03-05"),  # already readable: left alone
    ],
)
def test_dates(raw: str, shown: str) -> None:
    assert fmt.format_da(raw) == shown


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("143005", "14:30:05"),
        ("143005.123456", "14:30:05"),
        ("1430", "14:30"),
        ("14", "14:00"),
        ("14:30:05", "14:30:05"),  # ACR-NEMA
        ("235960", "23:59:59"),  # leap second
        ("250000", "250000"),
        ("146000", "146000"),
        ("noon", "noon"),
        ("", ""),
    ],
)
def test_times(raw: str, shown: str) -> None:
    assert fmt.format_tm(raw) == shown


def test_time_fraction() -> None:
    assert fmt.format_tm("143005.123", fraction=True) == "14:30:05.123"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("20240305143005", "2024-03-05 14:30:05"),
        ("20240305143005.5+0100", "2024-03-05 14:30:05 UTC+01:00"),
        ("202403051430", "2024-03-05 14:30"),
        ("20240305", "2024-03-05"),
        ("202403", "2024-03"),
        ("2024", "2024"),
        ("20240305-0500", "2024-03-05 UTC-05:00"),
        ("20241305143005", "20241305143005"),
        ("202413", "202413"),
        ("20240305256000", "20240305256000"),
        ("garbage", "garbage"),
    ],
)
def test_date_times(raw: str, shown: str) -> None:
    assert fmt.format_dt(raw) == shown


def test_date_styles() -> None:
    fmt.configure("%d.%m.%Y")
    assert fmt.format_da("20240305") == "05.03.2024"
    fmt.configure("locale")
    assert fmt.format_da("20240305") == datetime(2024, 3, 5).strftime("%x")
    fmt.configure("auto")  # the C locale of a headless run: ISO
    if locale.setlocale(locale.LC_TIME) in ("C", "POSIX"):
        assert fmt.format_da("20240305") == "2024-03-05"
    assert fmt.format_da("20241301") == "20241301"


def test_value_by_vr_and_timestamp() -> None:
    assert fmt.format_value("DOE^J", "PN") == "DOE, J"
    assert fmt.format_value("20240305", "DA") == "2024-03-05"
    assert fmt.format_value("0930", "TM") == "09:30"
    assert fmt.format_value("2024", "DT") == "2024"
    assert fmt.format_value(" CT ", "CS") == "CT"
    ts = datetime(2024, 3, 5, 14, 30, 5).timestamp()
    assert fmt.format_timestamp(ts) == "2024-03-05 14:30:05"
    assert fmt.format_timestamp(ts, seconds=False) == "2024-03-05 14:30"
    assert fmt.format_timestamp(None) == ""
    assert fmt.format_timestamp(1e300) == "1e+300"


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (1234567, "1.2 MB"),
        (12_345_678, "12 MB"),
        (999_999, "1.0 MB"),
        (5 * 10**12, "5.0 TB"),
        (-2048, "-2.0 kB"),
        (None, ""),
        (float("nan"), ""),
    ],
)
def test_sizes(n: float | None, shown: str) -> None:
    assert fmt.format_size(n) == shown


@pytest.mark.parametrize(
    ("s", "shown"),
    [
        (0.0421, "42 ms"),
        (4.25, "4.2 s"),
        (42.4, "42 s"),
        (65, "1 min 05 s"),
        (7380, "2 h 03 min"),
        (-1, "0 ms"),
        (None, ""),
        (float("inf"), ""),
    ],
)
def test_durations(s: float | None, shown: str) -> None:
    assert fmt.format_duration(s) == shown


def test_rates() -> None:
    assert fmt.format_rate(37, 3.0) == "12.3 img/s"
    assert fmt.format_rate(1000, 2.0) == "500 img/s"
    assert fmt.format_rate(5, 0) == ""
    assert fmt.format_rate(5, None, "assoc") == ""
    assert fmt.format_bytes_rate(45_600_000, 1.0) == "46 MB/s"
    assert fmt.format_bytes_rate(4_560_000, 1.0) == "4.6 MB/s"
    assert fmt.format_bytes_rate(1, 0) == ""


@pytest.mark.parametrize(
    ("w", "level", "shown"),
    [
        (400.0, 40.0, "W 400 L 40"),
        (1500.5, -600, "W 1500.5 L -600"),
        (1 / 3, -0.0, "W 0.33 L 0"),
        (400, None, "W 400"),
        (None, None, ""),
    ],
)
def test_window(w: float | None, level: float | None, shown: str) -> None:
    assert fmt.format_window(w, level) == shown


def test_numbers() -> None:
    assert fmt.format_number("12.50") == "12.5"
    assert fmt.format_number("abc") == "abc"
    assert fmt.format_number(float("nan")) == "nan"
    assert fmt.format_number(2.71828, decimals=0) == "3"


def test_ae_and_status() -> None:
    assert fmt.format_ae("PACS", "10.0.0.5", 104) == "PACS@10.0.0.5:104"
    assert fmt.format_ae("PACS", "::1", 11112) == "PACS@[::1]:11112"
    assert fmt.format_ae("PACS") == "PACS"
    assert fmt.format_ae("", "host", 104) == "host:104"
    from pacsadmin.core.dimse.status import status_info

    moved = status_info(0xA801, "C-MOVE")
    assert fmt.format_status(moved) == "0xA801 Refused: move destination unknown"
    assert fmt.format_status(moved) == moved.label  # one spelling
    assert fmt.format_status("0xa801", "Move destination unknown") == (
        "0xA801 Move destination unknown"
    )
    assert fmt.format_status(0) == "0x0000"
    assert fmt.format_status("43009") == "0xA801"
    assert fmt.format_status(status_info(0xC123)).startswith("0xC123 Failed")
    assert fmt.format_status("bogus") == "bogus"
    assert fmt.format_status(-1) == "-1"
    assert fmt.format_status(0x10000) == "65536"
    assert fmt.format_status(None) == ""
