"""The offline rule-based models (SPEC §7.2) and the factory choosing them."""

from __future__ import annotations

import math

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from autotrade_tui import config
from autotrade_tui.ai.base import DecisionModel
from autotrade_tui.ai.factory import build_models
from autotrade_tui.ai.offline import (
    ACTIONS,
    HELD,
    MeanReverter,
    RuleParams,
    TrendFollower,
    _round2,
    num,
)
from autotrade_tui.ai.openai_compat import OpenAICompatModel
from autotrade_tui.ai.parsing import parse_decision
from autotrade_tui.core import indicators
from autotrade_tui.core.models import Action, DecisionContext
from autotrade_tui.core.voting import vote

# an uptrend (SMA50 1.49 % over SMA200) and, at the default price 68,500, a dip 4 ATR under
# EMA50; a downtrend and, at 67,500, a rally 3.3 ATR over EMA50
UP = {"sma_50": 68_000.0, "sma_200": 67_000.0, "ema_50": 69_100.0, "atr_14": 150.0,
      "adx_14": 31.0, "plus_di": 28.0, "minus_di": 14.0, "rsi_14": 62.0,
      "bb_percent_b": 0.78, "stoch_k": 70.0, "stoch_d": 65.0}
DOWN = {"sma_50": 66_000.0, "sma_200": 67_000.0, "ema_50": 67_000.0, "atr_14": 150.0,
        "adx_14": 29.0, "plus_di": 12.0, "minus_di": 30.0, "rsi_14": 38.0,
        "bb_percent_b": 0.2, "stoch_k": 30.0, "stoch_d": 35.0}
OVERSOLD = {"rsi_14": 24.0, "bb_percent_b": -0.05, "stoch_k": 14.0, "stoch_d": 10.0}
OVERBOUGHT = {"rsi_14": 78.0, "bb_percent_b": 1.08, "stoch_k": 91.0, "stoch_d": 94.0}


def ctx(indicators: dict[str, float], price: float = 68_500.0,
        held: float = 0.0) -> DecisionContext:
    position = None if not held else {"side": "LONG" if held > 0 else "SHORT"}
    return DecisionContext(symbol="BTC/USDT", ts=1_700_000_000.0, price=price,
                           indicators=indicators, position=position)


def test_protocol_and_names() -> None:
    trend, mean = TrendFollower(), MeanReverter()
    assert isinstance(trend, DecisionModel) and isinstance(mean, DecisionModel)
    assert (trend.name, mean.name) == ("offline/trend-follower", "offline/mean-reversion")


@pytest.mark.parametrize("model_type", [TrendFollower, MeanReverter])
@pytest.mark.parametrize("indicators", [UP, DOWN, OVERSOLD, OVERBOUGHT, {}])
async def test_deterministic(model_type: type, indicators: dict[str, float]) -> None:
    first = await model_type().decide(ctx(indicators))
    again = await model_type().decide(ctx(dict(indicators)))
    assert first == again


async def test_trend_follower_buys_the_dip_of_an_uptrend() -> None:
    model = TrendFollower()
    v = await model.decide(ctx(UP))
    assert v.ok and (v.decision, v.confidence) == (Action.BUY, 0.75)
    assert (v.latency_s, v.prompt_tokens, v.completion_tokens, v.cost) == (0.0, 0, 0, 0.0)
    assert v.reasoning == ("SMA50 68,000 > SMA200 67,000 (gap 1.49 %): uptrend, price 68,500 "
                           "below EMA50 69,100 by 4.0 ATR: buy the dip → BUY")
    assert parse_decision(model.last_raw or "") == (v.decision, v.confidence, v.reasoning)
    await model.close()


async def test_trend_follower_sells_the_rally_of_a_downtrend() -> None:
    v = await TrendFollower().decide(ctx(DOWN, price=67_500.0))
    assert (v.decision, v.confidence) == (Action.SELL, 0.75)
    assert "SMA50 66,000 < SMA200 67,000" in v.reasoning
    assert v.reasoning.endswith("above EMA50 67,000 by 3.3 ATR: sell the rally → SELL")


async def test_a_steeper_trend_raises_confidence() -> None:
    weak = await TrendFollower().decide(ctx({**UP, "sma_200": 67_700.0}))  # gap 0.44 %
    strong = await TrendFollower().decide(ctx(UP))
    assert weak.decision is strong.decision is Action.BUY
    assert (weak.confidence, strong.confidence) == (0.62, 0.75)


@pytest.mark.parametrize(("change", "price", "confidence", "phrase"), [
    ({"sma_200": 67_900.0}, 68_500.0, 0.40, "no trend (gap < 0.30 %)"),
    ({}, 69_000.0, 0.45, "no pullback yet"),  # 0.7 ATR under EMA50: not enough
    ({}, 69_400.0, 0.45, "its latest move is not chased"),  # above EMA50: chasing
    ({}, 68_000.0, 0.50, "may be breaking"),  # 7.3 ATR under EMA50
])
async def test_trend_follower_stands_aside(change: dict[str, float], price: float,
                                           confidence: float, phrase: str) -> None:
    v = await TrendFollower().decide(ctx({**UP, **change}, price=price))
    assert (v.decision, v.confidence) == (Action.HOLD, confidence)
    assert phrase in v.reasoning


async def test_mean_reverter_buys_oversold() -> None:
    v = await MeanReverter().decide(ctx(OVERSOLD))
    assert (v.decision, v.confidence) == (Action.BUY, 0.65)
    assert v.reasoning == ("RSI 24.0, %B -0.05, Stoch %K 14: oversold (all three readings, %K "
                           "turning up) → BUY")


async def test_mean_reverter_sells_overbought() -> None:
    v = await MeanReverter().decide(ctx(OVERBOUGHT))  # %B 1.08: deep
    assert (v.decision, v.confidence) == (Action.SELL, 0.60)
    assert v.reasoning == ("RSI 78.0, %B 1.08, Stoch %K 91: overbought (all three readings, "
                           "%K turning down, deep: a squeeze may run on) → SELL")


@pytest.mark.parametrize(("indicators", "confidence", "phrase"), [
    ({"rsi_14": 29.0, "bb_percent_b": 0.04}, 0.55, "oversold → BUY"),  # two readings
    ({"rsi_14": 29.0, "bb_percent_b": 0.04, "stoch_k": 15.0, "stoch_d": 18.0}, 0.60,
     "(all three readings)"),
    ({"rsi_14": 29.0, "bb_percent_b": 0.04, "stoch_k": 30.0, "stoch_d": 25.0}, 0.60,
     "(%K turning up)"),
    ({"rsi_14": 12.0, "bb_percent_b": -0.2}, 0.50, "(deep: a crash may run on)"),
    ({"rsi_14": 29.0, "bb_percent_b": -0.1}, 0.50, "(deep: a crash may run on)"),
])
async def test_confirmation_raises_a_fade_and_depth_lowers_it(
        indicators: dict[str, float], confidence: float, phrase: str) -> None:
    """Measured on real candles, a fade was right more often with all three readings and the
    turn, and less often from a deep stretch (a crash): the confidence says so."""
    v = await MeanReverter().decide(ctx(indicators))
    assert (v.decision, v.confidence) == (Action.BUY, confidence)
    assert phrase in v.reasoning


@pytest.mark.parametrize(("indicators", "confidence", "phrase"), [
    ({"rsi_14": 50.0, "bb_percent_b": 0.5, "stoch_k": 50.0}, 0.40, "no extreme"),
    ({"rsi_14": 68.0, "bb_percent_b": 0.9, "stoch_k": 75.0}, 0.56, "no extreme"),  # stretched
    ({"rsi_14": 25.0, "bb_percent_b": 0.4, "stoch_k": 50.0}, 0.45, "only one oversold"),
    ({"rsi_14": 25.0, "bb_percent_b": 1.2, "stoch_k": 10.0}, 0.45, "conflict"),
])
async def test_mean_reverter_holds(indicators: dict[str, float], confidence: float,
                                   phrase: str) -> None:
    v = await MeanReverter().decide(ctx(indicators))
    assert v.decision is Action.HOLD
    assert v.confidence == pytest.approx(confidence)
    assert phrase in v.reasoning


NAN = float("nan")


@pytest.mark.parametrize("indicators", [
    {}, {"rsi_14": NAN, "bb_percent_b": NAN, "ema_50": NAN, "sma_50": NAN, "sma_200": NAN,
         "atr_14": NAN},
    {"ema_50": 1.0, "sma_50": 1.0, "sma_200": 0.0, "atr_14": math.inf, "rsi_14": None},
    {**UP, "atr_14": 0.0, "rsi_14": None},
], ids=["empty", "nan", "zero-and-inf-and-none", "no-range"])
@pytest.mark.parametrize("model_type", [TrendFollower, MeanReverter])
async def test_missing_data_is_a_low_confidence_hold(model_type: type,
                                                     indicators: dict[str, float]) -> None:
    v = await model_type().decide(ctx(indicators))
    assert v.ok and v.decision is Action.HOLD and v.confidence <= 0.25
    assert v.reasoning.startswith("missing ")


async def test_trend_follower_needs_a_price() -> None:
    v = await TrendFollower().decide(ctx(UP, price=0.0))
    assert (v.decision, v.confidence) == (Action.HOLD, 0.2)


finite = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**6, 10**6) | st.none()
keys = st.sampled_from(["ema_50", "sma_50", "sma_200", "atr_14", "adx_14", "plus_di",
                        "minus_di", "rsi_14", "bb_percent_b", "stoch_k", "stoch_d", "bb_middle"])


@given(st.dictionaries(keys, finite), st.floats(allow_nan=True, allow_infinity=True))
async def test_never_raises_on_any_indicators(indicators: dict, price: float) -> None:
    for model in (TrendFollower(), MeanReverter()):
        v = await model.decide(ctx(indicators, price=price))
        assert v.ok, v.error
        assert v.decision in (Action.BUY, Action.SELL, Action.HOLD)
        assert 0.0 <= v.confidence <= 1.0 and v.reasoning


async def test_offline_pair_trades_a_clear_trend_and_holds_a_flat_market() -> None:
    trend, mean = TrendFollower(), MeanReverter()
    up = vote(await trend.decide(ctx(UP)), await mean.decide(ctx(UP)))
    assert up.decision is Action.BUY
    flat = {**UP, "sma_200": 68_000.0, "rsi_14": 51.0, "bb_percent_b": 0.5, "stoch_k": 50.0}
    still = vote(await trend.decide(ctx(flat)), await mean.decide(ctx(flat)))
    assert still.decision is Action.HOLD


def test_num_formatting() -> None:
    assert [num(68_210.4), num(152.34), num(-41.0), num(2.345), num(0.04217)] == [
        "68,210", "152.3", "-41.0", "2.35", "0.0422"]


# --- factory


def test_factory_offline_without_key() -> None:
    primary, secondary = build_models(config.defaults(), None)
    assert isinstance(primary, TrendFollower) and isinstance(secondary, MeanReverter)


def test_factory_offline_when_forced() -> None:
    settings = config.defaults(openrouter_api_key="sk-x", offline_models=True)
    assert isinstance(build_models(settings, None)[0], TrendFollower)


async def test_factory_api_models_share_the_client() -> None:
    settings = config.defaults(openrouter_api_key="sk-x", ai_model_primary="p/one",
                               ai_model_secondary="s/two", model_timeout_seconds=7.0,
                               model_max_retries=1, ai_base_url="http://127.0.0.1:1/v1")
    async with httpx.AsyncClient() as client:
        a, b = build_models(settings, client)
        assert isinstance(a, OpenAICompatModel) and isinstance(b, OpenAICompatModel)
        assert (a.name, b.name) == ("p/one", "s/two")
        assert a._client is client and b._client is client
        assert (a.timeout, a.max_retries, a.base_url) == (7.0, 1, "http://127.0.0.1:1/v1")
        await a.close()
        assert not client.is_closed


async def test_factory_labels_the_same_model_twice() -> None:
    settings = config.defaults(openrouter_api_key="sk-x", ai_model_primary="m/x",
                               ai_model_secondary="m/x")
    a, b = build_models(settings, None)  # no client given: each model owns one
    assert (a.name, b.name) == ("m/x (A)", "m/x (B)")
    await a.close()
    await b.close()
    assert isinstance(a, OpenAICompatModel) and a._client.is_closed


# --- one rule, over one bar or a whole series ------------------------------------------

def _walk(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    open_ = np.r_[close[0], close[:-1]]
    return pd.DataFrame({"open": open_, "close": close, "volume": rng.lognormal(2, 0.5, n),
                         "high": np.maximum(open_, close) * (1 + rng.uniform(0, 0.003, n)),
                         "low": np.minimum(open_, close) * (1 - rng.uniform(0, 0.003, n))})


@pytest.mark.parametrize("held", [0.0, 1.0, -1.0])
@pytest.mark.parametrize("model_type", [TrendFollower, MeanReverter])
async def test_the_series_rule_is_the_live_decision_at_every_bar(model_type: type,
                                                                 held: float) -> None:
    """What a backtest computes once per series is what `decide` answers live, bar by bar,
    reasoning included, on every branch of the rule, flat and holding either side."""
    df = _walk(3000, seed=11)
    frame = indicators.compute_frame(df)
    close = df["close"].to_numpy()
    model = model_type()
    out = model.vector_rules(close, *(np.full(len(df), held) if k == HELD
                                      else frame[k].to_numpy() for k in model.inputs))
    assert len(set(out.branch.tolist())) >= 5  # the walk visits (nearly) every branch
    for i in range(0, len(df), 7):
        ind = {k: float(frame[k].iloc[i]) for k in model.inputs if k != HELD}
        live = await model.decide(ctx(ind, price=float(close[i]), held=held))
        assert (ACTIONS[out.action[i]], float(out.confidence[i])) == (live.decision,
                                                                      live.confidence)
        values = [held if k == HELD else None if math.isnan(ind[k]) else ind[k]
                  for k in model.inputs]
        text = model.rule_text(int(out.branch[i]), int(out.detail[i]), float(close[i]), *values)
        assert text == live.reasoning


HALVES = [0.005, 0.015, 0.065, 0.075, 0.125, 0.675, 1.005, -0.015]  # where np.round differs


@given(st.lists(st.floats(-2, 2) | st.sampled_from(HALVES), min_size=1, max_size=50))
def test_round2_is_python_round(xs: list[float]) -> None:
    assert _round2(np.array(xs)).tolist() == [round(x, 2) for x in xs]


async def test_the_mean_reverter_does_not_fade_a_strong_trend() -> None:
    """Oversold inside a downtrend ADX and ±DI show (ADX ≥ 20, -DI above +DI): HOLD,
    saying why; the same readings without the trend: BUY."""
    stretched = {**OVERSOLD, "bb_middle": 70_000.0}
    falling = {**stretched, "adx_14": 32.0, "plus_di": 11.0, "minus_di": 29.0}
    v = await MeanReverter().decide(ctx(falling))
    assert v.decision is Action.HOLD and v.confidence == 0.45
    assert v.reasoning.endswith("oversold, but in a strong downtrend (ADX 32, -DI 29 > +DI 11):"
                                " not fading it → HOLD")
    calm = await MeanReverter().decide(ctx({**falling, "adx_14": 19.0}))
    assert calm.decision is Action.BUY
    rising = await MeanReverter().decide(ctx({**falling, "plus_di": 30.0}))
    assert rising.decision is Action.BUY  # the trend is up: an oversold dip in it is bought


# ---- holding and fees (SPEC §7.2: no flip-flopping, fee-aware)


@pytest.mark.parametrize("model_type", [TrendFollower, MeanReverter])
async def test_a_timid_signal_keeps_the_position_of_its_own_side(model_type: type) -> None:
    signal = UP if model_type is TrendFollower else OVERSOLD
    alone = await model_type().decide(ctx(signal))
    assert alone.decision is Action.BUY and alone.confidence < 0.8
    held = await model_type().decide(ctx(signal, held=1.0))  # already LONG: no stack
    assert held.decision is Action.HOLD and held.confidence == 0.5
    assert "keep" in held.reasoning.lower()


async def test_a_weak_reversal_does_not_flip_and_a_strong_one_does() -> None:
    weak = await TrendFollower().decide(ctx(UP, held=-1.0))  # SHORT; a dip to buy at 0.75
    assert weak.decision is Action.HOLD and weak.confidence == 0.55
    assert "not strong enough to reverse it (needs 0.80)" in weak.reasoning
    bold = TrendFollower(params=RuleParams(reverse_at=0.7))
    strong = await bold.decide(ctx(UP, held=-1.0))
    assert (strong.decision, strong.confidence) == (Action.BUY, 0.75)
    fade = await MeanReverter(params=RuleParams(reverse_at=0.65)).decide(ctx(OVERSOLD, held=-1.0))
    assert (fade.decision, fade.confidence) == (Action.BUY, 0.65)
    assert (await MeanReverter().decide(ctx(OVERSOLD, held=-1.0))).decision is Action.HOLD


async def test_the_trend_follower_skips_a_way_back_that_cannot_pay_three_round_trip_fees(
        ) -> None:
    # 4 ATR of 50 under EMA50: 0.29 % back to it, against 3 x 0.2 % = 0.6 %: no entry; at a
    # tenth of the fee rate it trades
    narrow = {**UP, "atr_14": 50.0, "ema_50": 68_700.0}
    v = await TrendFollower().decide(ctx(narrow))
    assert v.decision is Action.HOLD and v.confidence == 0.45 and "fee" in v.reasoning
    cheap = await TrendFollower(commission_rate=0.0001).decide(ctx(narrow))
    assert cheap.decision is Action.BUY


async def test_the_mean_reverter_skips_a_way_back_that_cannot_pay_the_fees() -> None:
    price = 68_500.0
    near = {**OVERSOLD, "bb_middle": price * 1.004}  # 0.4 % back to the middle < 0.6 %
    v = await MeanReverter().decide(ctx(near, price=price))
    assert v.decision is Action.HOLD and v.confidence == 0.45 and "fee" in v.reasoning
    far = {**OVERSOLD, "bb_middle": price * 1.02}
    assert (await MeanReverter().decide(ctx(far, price=price))).decision is Action.BUY


# --- the rules' parameters: config keys offline_* (optimize searches them, SPEC §15)


def test_the_offline_keys_default_to_the_rules_constants() -> None:
    """The trader's default is unchanged: the keys' defaults are the rules' constants."""
    from autotrade_tui.ai import offline

    s = config.defaults()
    assert (s.offline_trend_adx, s.offline_rsi_extreme, s.offline_fee_margin,
            s.offline_reverse_confidence) == (offline.ADX_TREND, offline.RSI_LOW,
                                              offline.FEE_MARGIN, offline.REVERSE_AT)
    assert 100 - offline.RSI_LOW == offline.RSI_HIGH
    trend, mean = build_models(s, None)
    assert trend.params == mean.params == offline.DEFAULT_PARAMS  # type: ignore[attr-defined]


async def test_the_offline_keys_reach_the_rules() -> None:
    def models(**keys: float) -> tuple[TrendFollower, MeanReverter]:
        trend, mean = build_models(config.defaults(offline_models=True, **keys), None)
        assert isinstance(trend, TrendFollower) and isinstance(mean, MeanReverter)
        return trend, mean

    # trend_adx: oversold in a fall of ADX 25 is a trend not to fade at 20, none at 30
    falling = {**OVERSOLD, "bb_middle": 70_000.0, "adx_14": 25.0, "plus_di": 11.0,
               "minus_di": 29.0}
    trend, mean = models(offline_trend_adx=30.0)
    assert trend.params == mean.params == RuleParams(trend_adx=30.0)
    assert (await mean.decide(ctx(falling))).decision is Action.BUY
    v = await models()[1].decide(ctx(falling))
    assert v.decision is Action.HOLD and "not fading it" in v.reasoning
    # fee_margin: 0.41 % back to EMA50 cannot pay 3 round trips (0.6 %), it pays 2 (0.4 %)
    narrow = {**UP, "atr_14": 68.5, "ema_50": 68_500 + 280.0}
    assert (await models()[0].decide(ctx(narrow))).decision is Action.HOLD
    cheap = await models(offline_fee_margin=2.0)[0].decide(ctx(narrow))
    assert cheap.decision is Action.BUY
    # rsi_extreme: RSI 33 with %B and %K low is oversold at 35, one reading only at 30
    low = {"rsi_14": 33.0, "bb_percent_b": 0.5, "stoch_k": 14.0, "stoch_d": 10.0}
    assert (await models()[1].decide(ctx(low))).decision is Action.HOLD
    assert (await models(offline_rsi_extreme=35.0)[1].decide(ctx(low))).decision is Action.BUY
    # reverse_confidence: a dip to buy (0.62) against a SHORT reverses it when the bar is 0.6
    weak_up = {**UP, "sma_200": 67_700.0}
    timid = await models(offline_reverse_confidence=0.6)[0].decide(ctx(weak_up, held=-1.0))
    assert timid.decision is Action.BUY
    kept = await models()[0].decide(ctx(weak_up, held=-1.0))
    assert kept.decision is Action.HOLD and "needs 0.80" in kept.reasoning


@pytest.mark.parametrize("extreme", [20.0, 30.0, 40.0])
@pytest.mark.parametrize(("way", "confidence"), [(0.5, 0.40), (0.75, 0.50), (0.995, 0.60)])
async def test_the_no_extreme_hold_warns_as_rsi_nears_the_configured_extreme(
        extreme: float, way: float, confidence: float) -> None:
    """The "no extreme" HOLD ramps 0.40 -> 0.60 over the second half of the way from RSI 50
    to offline_rsi_extreme (|RSI - 50| 10..20 at the default 30/70), on either side."""
    _, mean = build_models(config.defaults(offline_models=True, offline_rsi_extreme=extreme),
                           None)
    for side in (-1, 1):
        rsi = 50.0 + side * way * (50.0 - extreme)
        v = await mean.decide(ctx({"rsi_14": rsi, "bb_percent_b": 0.5, "stoch_k": 50.0}))
        assert v.decision is Action.HOLD and "no extreme" in v.reasoning, (rsi, v.reasoning)
        assert v.confidence == pytest.approx(confidence), rsi


@pytest.mark.parametrize(("key", "value"), [("offline_trend_adx", 50.0),
                                            ("offline_rsi_extreme", 60.0),
                                            ("offline_fee_margin", -1.0),
                                            ("offline_reverse_confidence", 1.5)])
def test_an_offline_key_out_of_its_range_is_refused(key: str, value: float) -> None:
    with pytest.raises(config.ConfigError, match=key):
        config.defaults(**{key: value})
