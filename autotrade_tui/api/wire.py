"""The API's JSON (SPEC §13), written and read here only: the server encodes with it, the
attach client decodes with it, and `decode_x(to_plain(encode_x(v))) == v` for every value.

Numbers are JSON numbers; times are `ts`, epoch seconds (float, exact); enums are their
names ("LONG", "OPEN", "BUY", "HIGH" …); a frozenset is a sorted list, a tuple a list. Rows
read from the database (`/api/trades`, `/api/ai-decisions`, `/api/events`) also carry their
`id` and a `timestamp` ("YYYY-MM-DD HH:MM:SS", UTC), as `report --json` has them. Decoders
ignore keys they do not know (a newer engine may send more) and use a field's default for a
key that is missing.

Shapes (each is also the item of the REST endpoint named):
- trade (`/api/trades`): the `trades` columns = `core.models.Trade`'s fields: ts, symbol,
  order_type, side, amount, price, pnl, fee, margin, leverage, source, reason.
- event (`/api/events`): `market_events` = `MarketEvent`: ts, symbol, event_type, severity,
  description, suggested_action, metrics; on the stream also `ongoing`: null when raised,
  {raised_ts, since, count} when a condition raised earlier is still there (EventOngoing).
- decision (`/api/ai-decisions`): the seed's `ai_decisions` columns, flat: id, ts, symbol,
  price, model_N_{name, decision (null: that model failed), confidence, reasoning, error,
  latency_s, prompt_tokens, completion_tokens, cost} for N = 1, 2, final_decision,
  final_confidence, vote_reason, threshold, executed, execution_note, source, trades (the
  fills it made; [] for rows read back). `input_data` only on `/api/ai-decisions/{id}`.
- status (`/api/status`): `runtime.updates.Status`'s fields (models a 2-list, stale a list).
- account (`/api/account`): `report --json`'s account keys (core.account), as a dict.
- prices: {ts, stale, tickers: {symbol: {symbol, last, ts, bid, ask, volume_24h}}}.
- preview (`/api/preview`): `core.preview.OrderPreview`'s fields; `position` is null or
  {symbol, side, entries: [{price, quantity, margin, leverage, fee, ts}], opened_at};
  `closing` a list of [symbol, side].
- history (`/api/history`): {decisions, trades, events, equity: [{ts, equity}]}, newest
  first but the equity curve (oldest first).
- candle (`/api/candles`): {ts, open, high, low, close, volume}.

WebSocket message: {"type": T, "seq": n, "data": D}, `seq` counting 1, 2, 3 … on each
connection (a gap never happens: a client too slow to keep up is closed instead). An account
message has `scorecard_curves` only when the curves changed since the connection's previous
account message (its first one always has them; they change once a snapshot interval):
without the key, the curves are the previous message's (`decode_update(msg, account)`).

    T          D            update
    prices     prices       PricesUpdated
    account    account      AccountUpdated
    decision   decision     DecisionRecorded
    trade      trade        TradeExecuted
    event      event        EventRaised (ongoing null) | EventOngoing
    status     status       StatusChanged
    notice     {level, text} Notice
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar

from autotrade_tui.core.account import AccountView
from autotrade_tui.core.models import (
    Action,
    Candle,
    MarketEvent,
    ModelVote,
    Trade,
    VoteResult,
)
from autotrade_tui.core.preview import OrderPreview
from autotrade_tui.runtime.interface import History
from autotrade_tui.runtime.updates import (
    AccountUpdated,
    DecisionRecorded,
    EventOngoing,
    EventRaised,
    Notice,
    PricesUpdated,
    Status,
    StatusChanged,
    TradeExecuted,
    Update,
)

T = TypeVar("T")
VOTE_FIELDS = ("name", "decision", "confidence", "reasoning", "error", "latency_s",
               "prompt_tokens", "completion_tokens", "cost")


# ---------------------------------------------------------------- writing
def dumps(value: Any) -> str:
    """`value` as compact JSON text: dataclasses, enums, tuples and frozensets as the module
    docstring says. A non-finite float (never expected) is written as null: the text stays
    JSON that every parser reads."""
    try:
        return json.dumps(value, default=_default, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or ±inf somewhere: the slow path, once in a blue moon
        return json.dumps(_finite(json.loads(json.dumps(value, default=_default))),
                          separators=(",", ":"), allow_nan=False)


def to_plain(value: Any) -> Any:
    """`value` as JSON-ready lists, dicts, strings and numbers (what a client parses)."""
    return json.loads(dumps(value))


def _default(value: Any) -> Any:
    if isinstance(value, DecisionRecorded):
        return encode_decision(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: getattr(value, name) for name in _init_fields(type(value))}
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not part of the API's JSON")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


@cache
def _init_fields(cls: type) -> tuple[str, ...]:
    """The fields a dataclass is built from (not Position's private sums)."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


def timestamp(ts: float) -> str:
    """The database rows' `timestamp` text (report --json's form)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def encode_trade(t: Trade) -> dict[str, Any]:
    return {name: getattr(t, name) for name in _init_fields(Trade)}


def encode_event(e: MarketEvent) -> dict[str, Any]:
    return {name: getattr(e, name) for name in _init_fields(MarketEvent)}


def encode_decision(d: DecisionRecorded) -> dict[str, Any]:
    out: dict[str, Any] = {"id": d.id, "ts": d.ts, "symbol": d.symbol, "price": d.price}
    for n, vote in enumerate(d.votes, 1):
        for name in VOTE_FIELDS:
            out[f"model_{n}_{name}"] = getattr(vote, "model" if name == "name" else name)
    r = d.result
    out.update(final_decision=r.decision, final_confidence=r.confidence,
               vote_reason=r.reason, threshold=r.threshold, executed=d.executed,
               execution_note=d.note, source=d.source, trades=d.trades)
    return out


def encode_status(s: Status) -> dict[str, Any]:
    return {name: getattr(s, name) for name in _init_fields(Status)}


def encode_history(h: History) -> dict[str, Any]:
    return {"decisions": h.decisions, "trades": h.trades, "events": h.events,
            "equity": [{"ts": ts, "equity": eq} for ts, eq in h.equity]}


def encode_update(u: Update) -> tuple[str, Any]:
    """(type, data) of the stream message for `u`."""
    if isinstance(u, PricesUpdated):
        return "prices", u
    if isinstance(u, AccountUpdated):
        return "account", u.account.to_dict()
    if isinstance(u, DecisionRecorded):
        return "decision", u
    if isinstance(u, TradeExecuted):
        return "trade", u.trade
    if isinstance(u, EventRaised):
        return "event", {**encode_event(u.event), "ongoing": None}
    if isinstance(u, EventOngoing):
        return "event", {**encode_event(u.event), "ongoing": {
            "raised_ts": u.raised_ts, "since": u.since, "count": u.count}}
    if isinstance(u, StatusChanged):
        return "status", u.status
    if isinstance(u, Notice):
        return "notice", u
    raise TypeError(f"{type(u).__name__} is not an update")


def message_body(u: Update, *, curves: bool = True) -> str:
    """The part of a stream message every client shares: `"type":…,"data":…}`; a client's
    message is `{"seq":n,` + this (so an update is encoded once, however many listen).
    `curves=False`: an account's `scorecard_curves` left out (they did not change)."""
    kind, data = encode_update(u)
    if not curves and kind == "account":
        data.pop("scorecard_curves", None)
    return f'"type":"{kind}","data":{dumps(data)}}}'


def message(seq: int, body: str) -> str:
    return f'{{"seq":{seq},{body}'


# ---------------------------------------------------------------- reading
def decode(cls: type[T], data: Any) -> T:
    """A value of `cls` (a dataclass of the domain) from its JSON."""
    return _read(cls, data)  # type: ignore[no-any-return]


def decode_trade(data: Mapping[str, Any]) -> Trade:
    return _read(Trade, data)  # type: ignore[no-any-return]


def decode_event(data: Mapping[str, Any]) -> MarketEvent:
    return _read(MarketEvent, data)  # type: ignore[no-any-return]


def decode_status(data: Mapping[str, Any]) -> Status:
    return _read(Status, data)  # type: ignore[no-any-return]


def decode_preview(data: Mapping[str, Any]) -> OrderPreview:
    return _read(OrderPreview, data)  # type: ignore[no-any-return]


def decode_candles(rows: list[Mapping[str, Any]]) -> list[Candle]:
    return [_read(Candle, r) for r in rows]


def decode_decision(data: Mapping[str, Any]) -> DecisionRecorded:
    votes = tuple(_vote(data, n) for n in (1, 2))
    decision = data.get("final_decision")
    result = VoteResult(Action.HOLD if decision is None else Action(decision),
                        float(data.get("final_confidence", 0.0)),
                        str(data.get("vote_reason", "")), float(data.get("threshold", 0.0)))
    return DecisionRecorded(
        data.get("id"), float(data["ts"]), str(data["symbol"]), float(data.get("price", 0.0)),
        votes, result, bool(data.get("executed", False)),  # type: ignore[arg-type]
        str(data.get("execution_note", "")), str(data.get("source", "auto")),
        [decode_trade(t) for t in data.get("trades") or ()])


def _vote(data: Mapping[str, Any], n: int) -> ModelVote:
    got = {name: data[f"model_{n}_{name}"] for name in VOTE_FIELDS
           if f"model_{n}_{name}" in data}
    got["model"] = got.pop("name", f"model {n}")
    return _read(ModelVote, got)  # type: ignore[no-any-return]


def decode_history(data: Mapping[str, Any]) -> History:
    return History([decode_decision(d) for d in data.get("decisions", ())],
                   [decode_trade(t) for t in data.get("trades", ())],
                   [decode_event(e) for e in data.get("events", ())],
                   [(float(p["ts"]), float(p["equity"])) for p in data.get("equity", ())])


def _event_update(data: Mapping[str, Any]) -> Update:
    event = decode_event(data)
    ongoing = data.get("ongoing")
    if not ongoing:
        return EventRaised(event)
    return EventOngoing(event, float(ongoing["raised_ts"]), float(ongoing["since"]),
                        int(ongoing["count"]))


_UPDATES: dict[str, Callable[[Any], Update]] = {
    "prices": lambda d: _read(PricesUpdated, d),
    "account": lambda d: AccountUpdated(AccountView.from_dict(d)),
    "decision": decode_decision,
    "trade": lambda d: TradeExecuted(decode_trade(d)),
    "event": _event_update,
    "status": lambda d: StatusChanged(decode_status(d)),
    "notice": lambda d: _read(Notice, d),
}
UPDATE_TYPES = tuple(_UPDATES)


def decode_update(msg: Mapping[str, Any], account: AccountView | None = None) -> Update:
    """The update of one stream message ({"type", "seq", "data"}); ValueError for a type
    this version does not know. `account`: the stream's previous account, whose scorecard
    curves an account message without `scorecard_curves` keeps (they did not change)."""
    decoder = _UPDATES.get(msg.get("type", ""))
    if decoder is None:
        raise ValueError(f"unknown update type {msg.get('type')!r}")
    data = msg["data"]
    if (account is not None and msg["type"] == "account" and "scorecard" in data
            and "scorecard_curves" not in data):
        data = {**data, "scorecard_curves": account.scorecard_curves}
    return decoder(data)


# ---- the reader behind the decoders: a value of a type hint from its JSON
def _read(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        return _read(next(a for a in args if a is not type(None)), value)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_read(args[0], v) for v in value)
        return tuple(_read(a, v) for a, v in zip(args, value, strict=True))
    if origin in (list, frozenset, set):
        (arg,) = typing.get_args(hint)
        return origin(_read(arg, v) for v in value)
    if origin is dict:
        _, arg = typing.get_args(hint)
        return {str(k): _read(arg, v) for k, v in value.items()}
    if hint is float:
        return float(value)
    if hint in (int, bool, str) or (isinstance(hint, type) and issubclass(hint, Enum)):
        return hint(value)
    if dataclasses.is_dataclass(hint):
        hints = _hints(hint)
        return hint(**{name: _read(hints[name], value[name]) for name in _init_fields(hint)
                       if name in value})
    raise TypeError(f"cannot read {hint!r}")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)
