"""The API's JSON (api.wire) reads back what it wrote: decode(JSON of encode(x)) == x for every
update type, status, trade, position, event, decision (both votes and the vote), order preview
and history; numbers stay numbers; unknown keys are ignored; the text is always valid JSON."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from autotrade_tui.api import wire
from autotrade_tui.core.models import (
    Action,
    Candle,
    Entry,
    EventType,
    MarketEvent,
    ModelVote,
    OrderType,
    Position,
    Severity,
    Side,
    Ticker,
    Trade,
    TradeSource,
    VoteResult,
)
from autotrade_tui.core.preview import KINDS, OrderPreview
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
)
from tests.account_fixtures import view

num = st.floats(allow_nan=False, allow_infinity=False)
text = st.text(max_size=20)
maybe_num = st.none() | num
json_leaf = st.none() | st.booleans() | st.integers() | num | text
json_value = st.recursive(json_leaf, lambda kids: st.lists(kids, max_size=3)
                          | st.dictionaries(text, kids, max_size=3), max_leaves=10)

trades = st.builds(Trade, num, text, st.sampled_from(OrderType), st.sampled_from(Side), num,
                   num, num, num, num, num, st.sampled_from(TradeSource), text)
events = st.builds(MarketEvent, num, text, st.sampled_from(EventType),
                   st.sampled_from(Severity), text, text,
                   st.dictionaries(text, json_value, max_size=3))
votes = st.builds(ModelVote, text, st.none() | st.sampled_from(Action), num, text, num,
                  st.integers(0, 10**9), st.integers(0, 10**9), num, st.none() | text)
decisions = st.builds(
    DecisionRecorded, st.none() | st.integers(1, 2**53), num, text, num,
    st.tuples(votes, votes), st.builds(VoteResult, st.sampled_from(Action), num, text, num),
    st.booleans(), text, text, st.lists(trades, max_size=3))
statuses = st.builds(Status, text, text, st.tuples(text, text), st.booleans(), st.booleans(),
                     text, maybe_num, num, maybe_num, st.frozensets(text, max_size=4), num,
                     text, text)
positions = st.builds(Position, text, st.sampled_from(Side),
                      st.lists(st.builds(Entry, num, num, num, num, num, num), max_size=3), num)
previews = st.builds(OrderPreview, st.sampled_from(KINDS), text, num,
                     st.lists(trades, max_size=3).map(tuple), text, st.booleans(), maybe_num,
                     st.none() | positions,
                     st.lists(st.tuples(text, st.sampled_from(["LONG", "SHORT"])),
                              max_size=3).map(tuple), num, num)
tickers = st.builds(Ticker, text, num, num, maybe_num, maybe_num, maybe_num)
accounts = st.builds(  # core.account.AccountView, as the runtime publishes it (scorecard too)
    lambda figures, reason, pos, rows, curves: view(
        [pos], equity=figures[0], free_capital=figures[1], realized_pnl=figures[2],
        halted_reason=reason).with_scorecard(rows, curves),
    st.tuples(num, num, num), text,
    st.fixed_dictionaries({"symbol": text, "side": st.sampled_from(["LONG", "SHORT"]),
                           "quantity": num, "unrealized_pnl": num,
                           "liquidation_distance_pct": maybe_num}),
    st.lists(st.dictionaries(text, json_value, max_size=3), max_size=2),
    st.dictionaries(text, st.lists(num, max_size=3), max_size=2))
updates = st.one_of(
    st.builds(PricesUpdated, st.dictionaries(text, tickers, max_size=3),
              st.frozensets(text, max_size=3), num),
    accounts.map(AccountUpdated),
    decisions, trades.map(TradeExecuted), events.map(EventRaised),
    st.builds(EventOngoing, events, num, num, st.integers(0, 10**6)),
    statuses.map(StatusChanged), st.builds(Notice, st.sampled_from(["info", "warning"]), text))


def through_json(value: Any) -> Any:
    """What a client parses: the text the server writes, read by the standard library."""
    return json.loads(wire.dumps(value))


@given(updates, st.integers(1, 2**40))
def test_every_update_reads_back_from_its_stream_message(update: Any, seq: int) -> None:
    msg = json.loads(wire.message(seq, wire.message_body(update)))
    assert msg["seq"] == seq and msg["type"] in wire.UPDATE_TYPES
    assert set(msg) == {"seq", "type", "data"}
    assert wire.decode_update(msg) == update


@given(decisions)
def test_a_decision_reads_back_with_both_votes_and_the_vote(d: DecisionRecorded) -> None:
    data = through_json(wire.encode_decision(d))
    assert data["model_1_decision"] == (d.votes[0].decision and d.votes[0].decision.value)
    assert data["final_decision"] == d.result.decision.value
    assert wire.decode_decision(data) == d


@given(statuses)
def test_a_status_reads_back(s: Status) -> None:
    data = through_json(wire.encode_status(s))
    assert data["stale"] == sorted(s.stale) and data["models"] == list(s.models)
    assert wire.decode_status(data) == s


@given(previews)
def test_an_order_preview_reads_back(p: OrderPreview) -> None:
    assert wire.decode_preview(through_json(p)) == p


@given(trades, events, positions)
def test_a_trade_an_event_and_a_position_read_back(t: Trade, e: MarketEvent,
                                                   p: Position) -> None:
    assert wire.decode_trade(through_json(wire.encode_trade(t))) == t
    assert wire.decode_event(through_json(wire.encode_event(e))) == e
    assert wire.decode(Position, through_json(p)) == p


@given(st.lists(decisions, max_size=2), st.lists(trades, max_size=2),
       st.lists(events, max_size=2), st.lists(st.tuples(num, num), max_size=3))
def test_a_history_reads_back(ds: list[DecisionRecorded], ts: list[Trade],
                              es: list[MarketEvent], eq: list[tuple[float, float]]) -> None:
    h = History(ds, ts, es, eq)
    assert wire.decode_history(through_json(wire.encode_history(h))) == h


@given(st.lists(st.builds(Candle, num, num, num, num, num, num), max_size=4))
def test_candles_read_back(candles: list[Candle]) -> None:
    assert wire.decode_candles(through_json(candles)) == candles


def test_numbers_are_numbers_and_unknown_keys_are_ignored() -> None:
    t = Trade(1.5, "BTC/USDT", OrderType.OPEN, Side.LONG, 0.1, 100.0, 0.0, 0.01, 5.0, 20.0,
              TradeSource.MANUAL, "manual long")
    data = through_json(wire.encode_trade(t))
    assert data["price"] == 100.0 and isinstance(data["amount"], float)
    assert data["side"] == "LONG" and data["source"] == "manual"
    assert wire.decode_trade({**data, "id": 7, "timestamp": "2025-06-15 15:07:00",
                              "from_a_newer_engine": [1]}) == t
    # a key missing (an older engine): the field's default
    assert wire.decode_trade({k: v for k, v in data.items() if k != "reason"}).reason == ""


def test_a_non_finite_number_is_written_as_null() -> None:
    text = wire.dumps({"a": float("nan"), "b": [float("inf"), 1.0]})
    assert json.loads(text) == {"a": None, "b": [None, 1.0]}
    assert "NaN" not in text and "Infinity" not in text
