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
"""

from __future__ import annotations

import math

from autotrade_tui.core.models import Action, ModelVote, VoteResult

EPS = 1e-9
SPLIT_GAP = 0.20
STRATEGIES = ("majority", "unanimous", "weighted")


def reaches(value: float, limit: float) -> bool:
    """`value ≥ limit`, tolerant of float noise at the boundary."""
    return value >= limit - EPS


def _conf(v: ModelVote) -> float:
    """The vote's confidence clamped to 0..1 (NaN → 0): a bad number must not win a vote."""
    c = v.confidence
    return 0.0 if math.isnan(c) else min(max(c, 0.0), 1.0)


def _err(v: ModelVote) -> str:
    return v.error or "no decision"


def _gate(action: Action, score: float, limit: float, why: str) -> VoteResult:
    """`action` if `score` reaches `limit`, else HOLD; `why` is the reason's first part."""
    if reaches(score, limit):
        return VoteResult(action, score, f"{why}, {action} {score:.2f} ≥ {limit:.2f}", limit)
    return VoteResult(Action.HOLD, score,
                      f"{why}, {action} {score:.2f} < {limit:.2f} → HOLD", limit)


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
    name = strategy.strip().lower()
    if name not in STRATEGIES:
        raise ValueError(f"unknown voting strategy {strategy!r} (one of {', '.join(STRATEGIES)})")
    if not v1.ok and not v2.ok:
        return VoteResult(Action.HOLD, 0.0, f"both models errored (A: {_err(v1)}; "
                          f"B: {_err(v2)}) → HOLD", threshold)
    if not v1.ok or not v2.ok:
        return _single(v1, v2, single_threshold)
    if name == "weighted":
        return _weighted(v1, v2, threshold, weights)
    if name == "unanimous":
        return _unanimous(v1, v2, threshold)
    return _majority(v1, v2, threshold)


def _single(v1: ModelVote, v2: ModelVote, limit: float) -> VoteResult:
    """One model errored: the other's answer stands alone against the single threshold."""
    ok, bad, ok_label, bad_label = (v1, v2, "A", "B") if v1.ok else (v2, v1, "B", "A")
    assert ok.decision is not None  # ok.ok guarantees it; narrows the type
    why = f"model {bad_label} errored ({_err(bad)}); {ok_label} alone"
    c = _conf(ok)
    if reaches(c, limit):
        return VoteResult(ok.decision, c, f"{why} {ok.decision} {c:.2f} ≥ {limit:.2f}", limit)
    return VoteResult(Action.HOLD, c, f"{why} {ok.decision} {c:.2f} < {limit:.2f} → HOLD", limit)


def _majority(v1: ModelVote, v2: ModelVote, limit: float) -> VoteResult:
    d1, d2, c1, c2 = v1.decision, v2.decision, _conf(v1), _conf(v2)
    assert d1 is not None and d2 is not None
    if d1 == d2:
        avg = (c1 + c2) / 2
        return VoteResult(*_agree_fields(d1, avg, limit))
    split = f"split {d1} {c1:.2f} vs {d2} {c2:.2f}"
    gap = abs(c1 - c2)
    if not reaches(gap, SPLIT_GAP):
        return VoteResult(Action.HOLD, max(c1, c2),
                          f"{split}: gap {gap:.2f} < {SPLIT_GAP:.2f} → HOLD", limit)
    top, top_c = (d1, c1) if c1 > c2 else (d2, c2)
    return _gate(top, top_c, limit, f"{split}: gap {gap:.2f} ≥ {SPLIT_GAP:.2f}")


def _agree_fields(action: Action, avg: float, limit: float) -> tuple[Action, float, str, float]:
    """Both agree: `both BUY, avg 0.72 ≥ 0.60` or `both BUY, avg 0.55 < 0.60 → HOLD`."""
    if reaches(avg, limit):
        return action, avg, f"both {action}, avg {avg:.2f} ≥ {limit:.2f}", limit
    return Action.HOLD, avg, f"both {action}, avg {avg:.2f} < {limit:.2f} → HOLD", limit


def _unanimous(v1: ModelVote, v2: ModelVote, limit: float) -> VoteResult:
    d1, d2, c1, c2 = v1.decision, v2.decision, _conf(v1), _conf(v2)
    assert d1 is not None and d2 is not None
    if d1 != d2:
        return VoteResult(Action.HOLD, 0.0, f"split {d1} {c1:.2f} vs {d2} {c2:.2f}: "
                          "unanimous needs agreement → HOLD", limit)
    return VoteResult(*_agree_fields(d1, (c1 + c2) / 2, limit))


def _weighted(
    v1: ModelVote, v2: ModelVote, limit: float, weights: tuple[float, float]
) -> VoteResult:
    w1, w2 = (max(w, 0.0) for w in weights)
    if w1 + w2 <= EPS:  # both weights 0: no preference expressed, so count them equally
        w1 = w2 = 0.5
    total = w1 + w2
    scores: dict[Action, float] = {}
    for v, w in ((v1, w1), (v2, w2)):
        assert v.decision is not None
        scores[v.decision] = scores.get(v.decision, 0.0) + w * _conf(v) / total
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    shown = ", ".join(f"{a} {s:.2f}" for a, s in ranked)
    why = f"weighted {w1:g}/{w2:g}: {shown}"
    if len(ranked) == 2 and abs(ranked[0][1] - ranked[1][1]) <= EPS:
        return VoteResult(Action.HOLD, ranked[0][1], f"{why}: tie → HOLD", limit)
    top, score = ranked[0]
    return _gate(top, score, limit, why)


__all__ = ["EPS", "SPLIT_GAP", "STRATEGIES", "reaches", "vote"]
