"""SQLModel tables: the seed's tables with its column names (SPEC §10), plus what crash
recovery needs (`account_state`, `position_entries`) and a `schema_meta` version row.

Version 2 (SPEC §10 "Runs for a year"): `ai_decisions.input_data` is stored compressed
(store/codec.py: given back as the same JSON), and an index covering the model usage columns
lets the report sum a year of decisions without reading their rows. Version 4: the equity
snapshots' `open_positions` compressed the same way (~490 → ~240 bytes a row with positions
open; nothing reads it but the row itself)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from autotrade_tui.store.codec import ZJSON

SCHEMA_VERSION = 4  # 3: model_scorecard (SPEC §16); 4: snapshots' positions compressed
USAGE_INDEX = "ix_ai_decisions_usage"  # (ts, tokens, cost): the report's sums


class TradeRow(SQLModel, table=True):
    __tablename__ = "trades"
    id: int | None = Field(default=None, primary_key=True)
    timestamp: datetime = Field(index=True)
    symbol: str = Field(index=True)
    order_type: str  # OPEN | ADD | CLOSE | LIQUIDATION
    side: str  # LONG | SHORT
    amount: float
    price: float
    pnl: float
    fee: float
    margin: float
    leverage: float
    source: str = "auto"  # auto | manual | event | guard | liquidation
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    decision_id: int | None = None
    ts: float = 0.0  # epoch seconds, exact


class DecisionRow(SQLModel, table=True):
    __tablename__ = "ai_decisions"
    __table_args__ = (Index(USAGE_INDEX, "ts", "tokens", "cost"),)
    id: int | None = Field(default=None, primary_key=True)
    timestamp: datetime = Field(index=True)
    symbol: str = Field(index=True)
    model_1_decision: str | None = None  # None: that model errored
    model_2_decision: str | None = None
    final_decision: str
    model_1_confidence: float = 0.0
    model_2_confidence: float = 0.0
    model_1_reasoning: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    model_2_reasoning: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    executed: bool = False
    input_data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(ZJSON))
    model_1_name: str = ""
    model_2_name: str = ""
    model_1_error: str | None = None
    model_2_error: str | None = None
    final_confidence: float = 0.0
    vote_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    execution_note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    source: str = "auto"  # auto | manual (decide now) | event
    price: float = 0.0
    tokens: int = 0
    cost: float = 0.0
    latency_s: float = 0.0
    ts: float = 0.0


class SnapshotRow(SQLModel, table=True):
    __tablename__ = "account_snapshots"
    id: int | None = Field(default=None, primary_key=True)
    timestamp: datetime = Field(index=True)
    total_equity: float
    total_capital: float
    unrealized_pnl: float
    open_positions: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(ZJSON))
    total_trades: int
    winning_trades: int
    losing_trades: int
    win_rate: float  # percent
    total_fees: float
    ts: float = 0.0


class EventRow(SQLModel, table=True):
    __tablename__ = "market_events"
    id: int | None = Field(default=None, primary_key=True)
    timestamp: datetime = Field(index=True)
    symbol: str = Field(index=True)
    event_type: str = Field(index=True)
    severity: str
    description: str = Field(sa_column=Column(Text, nullable=False))
    suggested_action: str = Field(sa_column=Column(Text, nullable=False))
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    processed: bool = False
    ts: float = 0.0


class MarketDataCacheRow(SQLModel, table=True):
    __tablename__ = "market_data_cache"
    id: int | None = Field(default=None, primary_key=True)
    timestamp: datetime = Field(index=True)
    symbol: str = Field(index=True)
    timeframe: str
    ohlcv_data: list[Any] = Field(default_factory=list, sa_column=Column(JSON))
    indicators: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    source: str = ""  # exchange id the data came from
    start_ts: float = 0.0
    end_ts: float = 0.0


class AccountStateRow(SQLModel, table=True):
    """The engine's ledger: one row (id = 1), rewritten in the same transaction as each trade."""

    __tablename__ = "account_state"
    id: int | None = Field(default=None, primary_key=True)
    initial_capital: float
    capital: float
    realized_pnl: float
    total_fees: float
    total_trades: int
    winning_trades: int
    losing_trades: int
    liquidations: int
    peak_equity: float
    halted_reason: str = ""
    paused: bool = False
    last_prices: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON))
    updated_ts: float = 0.0


class PositionEntryRow(SQLModel, table=True):
    """One entry (fill) of an open position; a position is the entries of one symbol."""

    __tablename__ = "position_entries"
    id: int | None = Field(default=None, primary_key=True)
    symbol: str = Field(index=True)
    side: str
    price: float
    quantity: float
    margin: float
    leverage: float
    fee: float
    ts: float
    opened_at: float
    seq: int = 0  # order of the entries within the position


class SchemaMetaRow(SQLModel, table=True):
    __tablename__ = "schema_meta"
    key: str = Field(primary_key=True)
    value: str


class ScorecardRow(SQLModel, table=True):
    """One model's shadow ledger and tally (core.scorecard, as JSON text: floats round-trip
    exactly), one row per model, rewritten in place: it never grows."""

    __tablename__ = "model_scorecard"
    model: str = Field(primary_key=True)
    state: str = Field(sa_column=Column(Text, nullable=False))
    ts: float = 0.0  # the runtime's clock when written
