"""Combine the two models' votes into one decision (SPEC §7.4): majority, unanimous, weighted.

Conventions (documented here because every front end shows them):
- HOLD is an action like BUY and SELL: two HOLDs agree on HOLD, and a confident HOLD can win
  a split. A HOLD result never trades, so its threshold check only affects the reason text.
- When the winning action misses its threshold the result is HOLD but keeps the score that
  missed (e.g. avg 0.55), so the UI can show how close it came; both errored → HOLD at 0.0.
- `v1` is model A (primary), `v2` model B (secondary); reasons refer to them as A and B.
- Thresholds and the 0.20 gap are inclusive and compared with a 1e-9 tolerance, so binary
  float noise (0.80 − 0.60 = 0.20000000000000007, 0.7 − 0.5 = 0.19999999999999996) never flips
  a boundary case.

`vote` takes the two ModelVotes and says why in `VoteResult.reason`; `tally` is the same count
on bare decisions and confidences without the text (a backtest votes once per candle and needs
the words only for the decisions it records). Both run the one implementation below.
"""

from __future__ import annotations

from autotrade_tui.core.models import Action, ModelVote, VoteResult

EPS = 1e-9
SPLIT_GAP = 0.20
STRATEGIES = ("majority", "unanimous", "weighted")

Count = tuple[Action, float, str, float]  # decision, score, reason ("" without text), threshold
_HOLD = Action.HOLD


def strategy_name(strategy: str) -> str:
    """The canonical name of a voting strategy; ValueError for an unknown one."""
    name = strategy.strip().lower()
    if name not in STRATEGIES:
        raise ValueError(f"unknown voting strategy {strategy!r} (one of {', '.join(STRATEGIES)})")
    return name


def _conf(c: float) -> float:
    """A confidence clamped to 0..1 (NaN → 0): a bad number must not win a vote."""
    if c != c:
        return 0.0
    return 0.0 if c < 0.0 else (1.0 if c > 1.0 else c)


def _err(v: ModelVote) -> str:
    return v.error or "no decision"


def vote(
    v1: ModelVote,
    v2: ModelVote,
    strategy: str = "majority",
    threshold: float = 0.60,
    single_threshold: float = 0.55,
    weights: tuple[float, float] = (0.5, 0.5),
) -> VoteResult:
    """The final decision from model A (`v1`) and model B (`v2`) under `strategy`.

    Pure and total for any votes; raises ValueError only for an unknown strategy name.
    """
    name = strategy_name(strategy)
    decision, score, reason, limit = _count(
        v1.decision if v1.ok else None, v1.confidence, v2.decision if v2.ok else None,
        v2.confidence, name, threshold, single_threshold, weights, (_err(v1), _err(v2)))
    return VoteResult(decision, score, reason, limit)


def tally(
    d1: Action | None,
    c1: float,
    d2: Action | None,
    c2: float,
    strategy: str = "majority",
    threshold: float = 0.60,
    single_threshold: float = 0.55,
    weights: tuple[float, float] = (0.5, 0.5),
) -> Count:
    """`vote` on bare decisions (None: that model errored) with an empty reason: the same
    decision, score and threshold. `strategy` must be a name `strategy_name` returns."""
    return _count(d1, c1, d2, c2, strategy, threshold, single_threshold, weights, None)


def _count(d1: Action | None, c1: float, d2: Action | None, c2: float, name: str,
           threshold: float, single_threshold: float, weights: tuple[float, float],
           errors: tuple[str, str] | None) -> Count:
    """The vote; `errors` (the models' error texts) given means: write the reason."""
    if d1 is None or d2 is None:
        if d1 is None and d2 is None:
            return _HOLD, 0.0, (f"both models errored (A: {errors[0]}; B: {errors[1]}) → HOLD"
                                if errors else ""), threshold
        return _single(d1, c1, d2, c2, single_threshold, errors)
    c1, c2 = _conf(c1), _conf(c2)
    if name == "majority":
        return _majority(d1, c1, d2, c2, threshold, errors is not None)
    if name == "unanimous":
        return _unanimous(d1, c1, d2, c2, threshold, errors is not None)
    if name == "weighted":
        return _weighted(d1, c1, d2, c2, threshold, weights, errors is not None)
    raise ValueError(f"unknown voting strategy {name!r} (one of {', '.join(STRATEGIES)})")


def _gate(action: Action, score: float, limit: float, lead: str, explain: bool) -> Count:
    """`action` if `score` reaches `limit`, else HOLD; the reason is `lead` (its first part,
    ending with a space) then `0.72 ≥ 0.60` or `0.55 < 0.60 → HOLD`."""
    if score >= limit - EPS:
        return action, score, f"{lead}{score:.2f} ≥ {limit:.2f}" if explain else "", limit
    if action is _HOLD:  # a HOLD never trades: no threshold was missed, none is named
        return _HOLD, score, f"{lead}{score:.2f}" if explain else "", limit
    return _HOLD, score, f"{lead}{score:.2f} < {limit:.2f} → HOLD" if explain else "", limit


def _single(d1: Action | None, c1: float, d2: Action | None, c2: float, limit: float,
            errors: tuple[str, str] | None) -> Count:
    """One model errored: the other's answer stands alone against the single threshold."""
    if d1 is not None:
        ok, c, ok_label, bad_label, bad = d1, c1, "A", "B", 1
    else:
        assert d2 is not None
        ok, c, ok_label, bad_label, bad = d2, c2, "B", "A", 0
    lead = f"model {bad_label} errored ({errors[bad]}); {ok_label} alone {ok} " if errors else ""
    return _gate(ok, _conf(c), limit, lead, errors is not None)


def _majority(d1: Action, c1: float, d2: Action, c2: float, limit: float,
              explain: bool) -> Count:
    if d1 == d2:
        return _agree(d1, (c1 + c2) / 2, limit, explain)
    split = f"split {d1} {c1:.2f} vs {d2} {c2:.2f}" if explain else ""
    gap = abs(c1 - c2)
    if not gap >= SPLIT_GAP - EPS:
        return _HOLD, max(c1, c2), (f"{split}: gap {gap:.2f} < {SPLIT_GAP:.2f} → HOLD"
                                    if explain else ""), limit
    top, top_c = (d1, c1) if c1 > c2 else (d2, c2)
    return _gate(top, top_c, limit, f"{split}: gap {gap:.2f} ≥ {SPLIT_GAP:.2f}, {top} "
                 if explain else "", explain)


def _agree(action: Action, avg: float, limit: float, explain: bool) -> Count:
    """Both agree: `both BUY, avg 0.72 ≥ 0.60` or `both BUY, avg 0.55 < 0.60 → HOLD`."""
    return _gate(action, avg, limit, f"both {action}, avg " if explain else "", explain)


def _unanimous(d1: Action, c1: float, d2: Action, c2: float, limit: float,
               explain: bool) -> Count:
    if d1 != d2:
        return _HOLD, 0.0, (f"split {d1} {c1:.2f} vs {d2} {c2:.2f}: unanimous needs "
                            "agreement → HOLD" if explain else ""), limit
    return _agree(d1, (c1 + c2) / 2, limit, explain)


def _weighted(d1: Action, c1: float, d2: Action, c2: float, limit: float,
              weights: tuple[float, float], explain: bool) -> Count:
    w1, w2 = (max(w, 0.0) for w in weights)
    if w1 + w2 <= EPS:  # both weights 0: no preference expressed, so count them equally
        w1 = w2 = 0.5
    total = w1 + w2
    scores: dict[Action, float] = {}
    for d, c, w in ((d1, c1, w1), (d2, c2, w2)):
        scores[d] = scores.get(d, 0.0) + w * c / total
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    why = ""
    if explain:
        shown = ", ".join(f"{a} {s:.2f}" for a, s in ranked)
        why = f"weighted {w1:g}/{w2:g}: {shown}"
    if len(ranked) == 2 and abs(ranked[0][1] - ranked[1][1]) <= EPS:
        return _HOLD, ranked[0][1], f"{why}: tie → HOLD" if explain else "", limit
    top, score = ranked[0]
    return _gate(top, score, limit, f"{why}, {top} " if explain else "", explain)


__all__ = ["EPS", "SPLIT_GAP", "STRATEGIES", "strategy_name", "tally", "vote"]
