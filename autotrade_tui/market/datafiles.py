"""OHLCV files as traders keep them (SPEC §5.3): one reader for every form, told by content.

Forms: CSV (with a header, or without one as exchange archives such as data.binance.vision
ship it: the first six columns are open time, open, high, low, close, volume), JSON (a list of
records, freqtrade's list of lists `[ms, open, high, low, close, volume]`, or
`{symbol: records or lists}`), Parquet and Feather (freqtrade's `date` column), each also
gzip-compressed. The suffix is a hint only: gzip, Parquet (`PAR1`), Arrow/Feather (`ARROW1`,
`FEA1`) and JSON (`[`, `{`) are recognised by their first bytes, anything else is read as CSV;
a zip archive holding one file (an exchange's monthly klines) is read as that file.

`read_table` gives the raw table with a `_row` column: the row number an error names, which is
the file's own line number for CSV (header = line 1), the item number for JSON, and the row
number for Parquet/Feather. It raises `DataFileError` with one line naming the file.

A folder in freqtrade's layout (`user_data/data/<exchange>`) holds one file per pair and
timeframe: `BTC_USDT-5m.feather`, `BTC_USDT-5m.json`, `BTC_USDT_USDT-5m-futures.feather` (also
in a `futures/` subfolder), `-spot` likewise. `folder_files` picks for each symbol the finest
timeframe that builds the one asked for.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autotrade_tui.errors import DataFileError, UserError
from autotrade_tui.market.base import TIMEFRAME_SECONDS

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
FORMATS = ".csv, .json, .parquet, .feather (each also .gz) or a freqtrade data folder"
# freqtrade's candle types that are not a pair's trades: never read as its price
_NOT_PRICES = ("-mark", "-index", "-premiumIndex", "-funding_rate")
_SUFFIXES = ("", "-spot", "-futures")
# when a folder has one pair and timeframe in several forms, the first found wins
_EXTENSIONS = (".feather", ".parquet", ".json", ".json.gz", ".csv", ".csv.gz")


def read_table(path: Path) -> pd.DataFrame:
    """File → raw DataFrame with `_row` and maybe a `symbol` column (see the module doc)."""
    try:
        return _parse(path, path.read_bytes())
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataFileError(f"{path}: is a directory, not a data file") from None
    except PermissionError:
        raise DataFileError(f"{path}: cannot be read (permission denied)") from None
    except UnicodeDecodeError:
        raise DataFileError(f"{path}: is not UTF-8 text (nor gzip, Parquet or Feather)") \
            from None
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{path}: is not valid JSON ({exc.msg} at line {exc.lineno}, "
                            f"column {exc.colno})") from None
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
        raise DataFileError(f"{path}: is a damaged gzip or zip file ({_first_line(exc)})") \
            from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataFileError(_csv_problem(path, exc)) from None
    except (OSError, ValueError) as exc:
        raise DataFileError(f"{path}: cannot be read ({_first_line(exc)})") from None


def _parse(path: Path, data: bytes) -> pd.DataFrame:
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif data[:4] == b"PK\x03\x04":
        data = _unzip(path, data)
    kind = sniff(data)
    if kind == "parquet":
        return _numbered(pd.read_parquet(io.BytesIO(data)))  # pyarrow, a dependency
    if kind == "feather":
        return _numbered(pd.read_feather(io.BytesIO(data)))
    if kind == "json":
        flat = _flat_lists(data)
        if flat is not None:
            return flat
        return _from_json(json.loads(data.decode("utf-8-sig")), path)
    return _read_csv(path, data)


def _unzip(path: Path, data: bytes) -> bytes:
    """The one file of a zip archive (an exchange's monthly klines, data.binance.vision)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        if len(names) != 1:
            raise DataFileError(f"{path}: is a zip archive of {len(names)} files, not one data "
                                f"file (unzip it; use {FORMATS})")
        return archive.read(names[0])


def sniff(data: bytes) -> str:
    """"parquet", "feather", "json" or "csv", from the first bytes of (uncompressed) data."""
    if data[:4] == b"PAR1":
        return "parquet"
    if data[:6] == b"ARROW1" or data[:4] == b"FEA1":
        return "feather"
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"[", b"{"):
        return "json"
    return "csv"


def _numbered(df: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(df.index, pd.RangeIndex):
        df = df.reset_index()  # a frame saved with its time as the index: a column again
    df["_row"] = np.arange(1, len(df) + 1)
    return df


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# --- CSV -------------------------------------------------------------------------------------

def _read_csv(path: Path, data: bytes) -> pd.DataFrame:
    header = _has_header(data)
    if header:
        df = pd.read_csv(io.BytesIO(data), skipinitialspace=True)
        if _shifted(df):
            # Line 2 has more fields than the header: pandas made the extra leading one(s)
            # the index and shifted every column (later rows then read as having empty fields).
            raise DataFileError(_too_many_fields(path, 2, len(df.columns) + df.index.nlevels,
                                                 len(df.columns)))
    else:  # an exchange archive: open time, o, h, l, c, v, then columns we do not need
        df = pd.read_csv(io.BytesIO(data), header=None, usecols=range(len(COLUMNS)),
                         names=list(COLUMNS), skipinitialspace=True)
    df["_row"] = _line_numbers(data, len(df), header)
    return df


def _has_header(data: bytes) -> bool:
    """Whether the first line names columns (its first field is not a number)."""
    first = data.lstrip(b"\xef\xbb\xbf\r\n").split(b"\n", 1)[0]
    field = first.split(b",", 1)[0].strip().strip(b'"')
    try:
        float(field)
    except ValueError:
        return True
    return False


def _line_numbers(data: bytes, rows: int, header: bool) -> np.ndarray:
    """The file line of each data row. pandas skips blank lines, so only a file that has
    some needs them counted (the rest: line = row + 1 below a header)."""
    first = 2 if header else 1
    body = data.rstrip(b"\r\n")
    if b"\n\n" not in body and b"\n\r\n" not in body and not body.startswith((b"\n", b"\r")):
        return np.arange(first, first + rows)
    lines = [k + 1 for k, line in enumerate(data.split(b"\n")) if line.strip()]
    numbered = np.asarray(lines[1 if header else 0:], dtype=np.int64)
    return numbered[:rows] if len(numbered) >= rows else np.arange(first, first + rows)


def _shifted(df: pd.DataFrame) -> bool:
    """pandas took leading fields as an index. (It may be a RangeIndex too: 1700000000,
    1700000300, ... is one. Only 0, 1, 2, ... is the index it makes itself.)"""
    return not df.index.equals(pd.RangeIndex(len(df)))


def _too_many_fields(path: Path, row: int, fields: int, header: int) -> str:
    return f"{path}: row {row} has {fields} fields, more than the header's {header}"


def _csv_problem(path: Path, exc: ValueError) -> str:
    """pandas' "Expected 6 fields in line 3, saw 7": line 3 of the file is its row 3."""
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if found is None:
        return f"{path}: is not a readable CSV file ({_first_line(exc)})"
    header, line, fields = map(int, found.groups())
    try:
        head = pd.read_csv(path, skipinitialspace=True, nrows=1)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError):
        head = None
    if head is not None and _shifted(head):
        # pandas expected line 2's length, not the header's: line 2 is the first too long
        return _too_many_fields(path, 2, header, len(head.columns))
    return _too_many_fields(path, line, fields, header)


# --- JSON ------------------------------------------------------------------------------------

def _from_json(data: Any, path: Path) -> pd.DataFrame:
    if isinstance(data, dict):
        parts = []
        for symbol, items in data.items():
            part = _json_rows(items, path, f"'{symbol}' ")
            part["symbol"] = symbol
            parts.append(part)
        if not parts:
            raise DataFileError(f"{path}: has no data")
        return pd.concat(parts, ignore_index=True)
    return _json_rows(data, path, "the top level ")


def _json_rows(items: Any, path: Path, where: str) -> pd.DataFrame:
    """Records ({"timestamp": ..., ...}) or freqtrade's lists ([ms, o, h, l, c, v])."""
    if isinstance(items, list) and items and all(isinstance(x, list) for x in items):
        short = next((k for k, x in enumerate(items) if len(x) < len(COLUMNS)), None)
        if short is not None:
            raise DataFileError(f"{path}: {where}row {short + 1} has {len(items[short])} "
                                f"values: need {len(COLUMNS)} ([ms, open, high, low, close, "
                                "volume])")
        df = pd.DataFrame([x[:len(COLUMNS)] for x in items], columns=list(COLUMNS))
    elif isinstance(items, list) and all(isinstance(x, dict) for x in items):
        df = pd.DataFrame(items)
    else:
        raise DataFileError(f"{path}: {where}must be a list of objects with timestamp, open, "
                            "high, low, close, volume, or of [ms, open, high, low, close, "
                            "volume] lists")
    df["_row"] = np.arange(1, len(df) + 1)
    return df


def _flat_lists(data: bytes) -> pd.DataFrame | None:
    """freqtrade's `[[ms,o,h,l,c,v],...]` read by the CSV parser (json.loads builds a Python
    list per bar: ~4× slower for a year). None unless it is lists of numbers only, six in each:
    the JSON path then reads it and names the row that is not."""
    body = data.strip()
    if not (body.startswith(b"[[") and body.endswith(b"]]")) or b'"' in body:
        return None
    rows = body.translate(None, b" \t\r\n")[2:-2].replace(b"],[", b"\n")
    if any(c in rows for c in (b"[", b"]", b"{", b"true", b"false", b"null")):
        return None  # nested, or JSON's own words: the JSON path judges them
    try:
        df = pd.read_csv(io.BytesIO(rows), header=None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return None
    if df.shape[1] != len(COLUMNS) or df.isna().to_numpy().any():
        return None
    df.columns = list(COLUMNS)
    df["_row"] = np.arange(1, len(df) + 1)
    return df


# --- freqtrade's data folder -----------------------------------------------------------------

def folder_files(folder: Path, symbols: Sequence[str], bar_seconds: int
                 ) -> tuple[dict[str, Path], int]:
    """Per symbol the file of the finest timeframe that builds `bar_seconds` bars (the same
    timeframe for all: one replay clock), and that timeframe in seconds. UserError naming
    what is missing and what the folder has."""
    found: dict[str, dict[int, Path]] = {sym: _pair_files(folder, sym) for sym in symbols}
    missing = [sym for sym, files in found.items() if not files]
    if missing:
        raise UserError(f"{folder}: no candles for {', '.join(missing)} (looked for e.g. "
                        f"{_stem(missing[0])}-5m.feather; {_what_is_there(folder)})")
    usable = set.intersection(*({tf for tf in files if bar_seconds % tf == 0}
                                for files in found.values()))
    if not usable:
        have = "; ".join(f"{sym}: {', '.join(_tf_name(tf) for tf in sorted(files))}"
                         for sym, files in found.items())
        raise UserError(f"{folder}: no timeframe present for every symbol builds "
                        f"{_tf_name(bar_seconds)} candles (have {have})")
    tf = min(usable)
    return {sym: files[tf] for sym, files in found.items()}, tf


def _stem(symbol: str) -> str:
    """freqtrade's file name of a pair: BTC/USDT → BTC_USDT, BTC/USDT:USDT → BTC_USDT_USDT."""
    return re.sub(r"[/:\- ]", "_", symbol.strip().upper())


def _pair_files(folder: Path, symbol: str) -> dict[int, Path]:
    stems = [_stem(symbol)]
    if ":" not in symbol and "/" in symbol:  # a futures folder names BTC/USDT's BTC_USDT_USDT
        stems.append(f"{stems[0]}_{symbol.split('/')[1].strip().upper()}")
    out: dict[int, Path] = {}
    for where in (folder, folder / "futures"):
        for stem in stems:
            for name, secs in TIMEFRAME_SECONDS.items():
                if secs in out:
                    continue
                for suffix in _SUFFIXES:
                    for ext in _EXTENSIONS:
                        path = where / f"{stem}-{name}{suffix}{ext}"
                        if path.is_file():
                            out[secs] = path
                            break
                    if secs in out:
                        break
    return out


def _what_is_there(folder: Path) -> str:
    pairs = sorted({p.name.split("-")[0] for p in folder.iterdir()
                    if p.is_file() and "-" in p.name
                    and not any(t in p.name for t in _NOT_PRICES)}) if folder.is_dir() else []
    if not pairs:
        return "it has no freqtrade candle files"
    more = f" and {len(pairs) - 8} more" if len(pairs) > 8 else ""
    return f"it has {', '.join(pairs[:8])}{more}"


def _tf_name(seconds: int) -> str:
    return next((n for n, s in TIMEFRAME_SECONDS.items() if s == seconds), f"{seconds} s")


__all__ = ["FORMATS", "folder_files", "read_table", "sniff"]
