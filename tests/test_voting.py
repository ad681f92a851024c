"""SPEC §7.4 voting: every branch of majority, unanimous, weighted, single-model and errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autotrade_tui.core.models import Action, ModelVote
from autotrade_tui.core.voting import tally, vote

B, S, H = Action.BUY, Action.SELL, Action.HOLD


def mv(decision: Action | None, confidence: float = 0.0, error: str | None = None,
       name: str = "m") -> ModelVote:
    return ModelVote(model=name, decision=decision, confidence=confidence, error=error)


def err(reason: str = "timeout") -> ModelVote:
    return mv(None, error=reason)


# (id, v1, v2, strategy, expected decision, expected confidence, fragment of the reason)
CASES = [
    # --- majority, agreement
    ("maj-agree-buy", mv(B, 0.8), mv(B, 0.64), "majority", B, 0.72, "both BUY, avg 0.72 ≥ 0.60"),
    ("maj-agree-sell", mv(S, 0.9), mv(S, 0.7), "majority", S, 0.8, "both SELL"),
    ("maj-agree-exact-threshold", mv(B, 0.7), mv(B, 0.5), "majority", B, 0.6, "avg 0.60 ≥ 0.60"),
    ("maj-agree-exact-float-noise", mv(S, 0.1 + 0.2 + 0.3), mv(S, 0.6), "majority", S, 0.6,
     "≥ 0.60"),
    ("maj-agree-low", mv(B, 0.6), mv(B, 0.5), "majority", H, 0.55, "avg 0.55 < 0.60 → HOLD"),
    ("maj-agree-hold", mv(H, 0.9), mv(H, 0.8), "majority", H, 0.85, "both HOLD"),
    ("maj-agree-hold-low", mv(H, 0.3), mv(H, 0.2), "majority", H, 0.25, "both HOLD"),
    # --- majority, split
    ("maj-split-gap", mv(B, 0.80), mv(S, 0.55), "majority", B, 0.80,
     "split BUY 0.80 vs SELL 0.55: gap 0.25 ≥ 0.20, BUY 0.80 ≥ 0.60"),
    ("maj-split-gap-exact-020", mv(B, 0.80), mv(S, 0.60), "majority", B, 0.80, "gap 0.20 ≥ 0.20"),
    ("maj-split-gap-exact-020-b-wins", mv(S, 0.5), mv(B, 0.7), "majority", B, 0.7,
     "gap 0.20 ≥ 0.20, BUY 0.70 ≥ 0.60"),  # 0.7−0.5 is 0.1999… in floats
    ("maj-split-gap-small", mv(B, 0.80), mv(S, 0.61), "majority", H, 0.80, "gap 0.19 < 0.20"),
    ("maj-split-winner-low", mv(B, 0.3), mv(S, 0.55), "majority", H, 0.55,
     "SELL 0.55 < 0.60 → HOLD"),
    ("maj-split-winner-exact", mv(B, 0.6), mv(S, 0.4), "majority", B, 0.6, "BUY 0.60 ≥ 0.60"),
    ("maj-split-hold-wins", mv(H, 0.9), mv(B, 0.6), "majority", H, 0.9, "HOLD 0.90 ≥ 0.60"),
    ("maj-split-second-wins", mv(B, 0.1), mv(S, 0.95), "majority", S, 0.95, "SELL 0.95"),
    # --- unanimous
    ("una-agree", mv(B, 0.7), mv(B, 0.6), "unanimous", B, 0.65, "both BUY"),
    ("una-agree-exact", mv(S, 0.55), mv(S, 0.65), "unanimous", S, 0.6, "avg 0.60 ≥ 0.60"),
    ("una-agree-low", mv(S, 0.55), mv(S, 0.6), "unanimous", H, 0.575, "→ HOLD"),
    ("una-split-even-with-gap", mv(B, 0.95), mv(S, 0.2), "unanimous", H, 0.0,
     "unanimous needs agreement"),
    # --- weighted (equal weights by default here)
    ("wei-agree", mv(B, 0.8), mv(B, 0.6), "weighted", B, 0.7, "BUY 0.70 ≥ 0.60"),
    ("wei-agree-low", mv(B, 0.6), mv(B, 0.5), "weighted", H, 0.55, "BUY 0.55 < 0.60 → HOLD"),
    ("wei-split-equal-weights-never-reach", mv(B, 1.0), mv(S, 0.2), "weighted", H, 0.5,
     "BUY 0.50 < 0.60"),
    ("wei-tie", mv(B, 0.7), mv(S, 0.7), "weighted", H, 0.35, "tie → HOLD"),
    # --- one model errored: any strategy uses the single threshold
    ("single-b-err-low", mv(S, 0.50), err("timeout"), "majority", H, 0.5,
     "model B errored (timeout); A alone SELL 0.50 < 0.55 → HOLD"),
    ("single-b-err-exact", mv(S, 0.55), err(), "majority", S, 0.55, "A alone SELL 0.55 ≥ 0.55"),
    ("single-a-err", err("HTTP 500"), mv(B, 0.7), "unanimous", B, 0.7,
     "model A errored (HTTP 500); B alone BUY 0.70 ≥ 0.55"),
    ("single-a-err-weighted", err(), mv(B, 0.58), "weighted", B, 0.58, "B alone BUY"),
    ("single-hold", mv(H, 0.9), err(), "majority", H, 0.9, "A alone HOLD"),
    ("single-decision-none-no-error", mv(B, 0.9), mv(None), "majority", B, 0.9,
     "model B errored (no decision)"),
    # --- both errored
    ("both-err", err("timeout"), err("unparseable answer"), "majority", H, 0.0,
     "both models errored (A: timeout; B: unparseable answer) → HOLD"),
    ("both-err-weighted", err(), err(), "weighted", H, 0.0, "both models errored"),
]


@pytest.mark.parametrize(("v1", "v2", "strategy", "decision", "confidence", "reason"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_vote_table(v1: ModelVote, v2: ModelVote, strategy: str, decision: Action,
                    confidence: float, reason: str) -> None:
    result = vote(v1, v2, strategy)
    assert result.decision is decision
    assert result.confidence == pytest.approx(confidence)
    assert reason in result.reason


def test_split_gap_float_noise_goes_to_higher_model() -> None:
    # 0.7 − 0.5 == 0.19999999999999996: still a 0.20 gap, so B's BUY 0.70 wins.
    result = vote(mv(S, 0.5), mv(B, 0.7), "majority")
    assert result.decision is B
    assert result.confidence == pytest.approx(0.7)


def test_thresholds_recorded_and_configurable() -> None:
    assert vote(mv(B, 0.7), mv(B, 0.7), threshold=0.75).decision is H
    assert vote(mv(B, 0.7), mv(B, 0.7), threshold=0.75).threshold == 0.75
    assert vote(mv(B, 0.6), err(), single_threshold=0.65).decision is H
    assert vote(mv(B, 0.6), err(), single_threshold=0.65).threshold == 0.65
    assert vote(mv(B, 0.66), err(), single_threshold=0.65).decision is B


WEIGHTED = [
    # weights favour A: A's BUY 0.9 → 0.8·0.9 = 0.72 vs B's SELL 0.2·0.9 = 0.18
    ("favour-a", mv(B, 0.9), mv(S, 0.9), (0.8, 0.2), B, 0.72),
    ("favour-b", mv(B, 0.9), mv(S, 0.9), (0.2, 0.8), S, 0.72),
    # not normalised weights: Σ = 1.5 → BUY 1.0·0.9/1.5 = 0.6 exactly: reaches the threshold
    ("unnormalised-exact", mv(B, 0.9), mv(S, 0.5), (1.0, 0.5), B, 0.6),
    ("agree-unequal", mv(B, 0.9), mv(B, 0.3), (0.75, 0.25), B, 0.75),
    ("agree-unequal-low", mv(B, 0.3), mv(B, 0.9), (0.75, 0.25), H, 0.45),
    ("zero-weight-b", mv(B, 0.7), mv(S, 1.0), (1.0, 0.0), B, 0.7),
    ("both-zero-means-equal", mv(B, 0.8), mv(B, 0.6), (0.0, 0.0), B, 0.7),
]


@pytest.mark.parametrize(("v1", "v2", "weights", "decision", "confidence"),
                         [c[1:] for c in WEIGHTED], ids=[c[0] for c in WEIGHTED])
def test_weighted_unequal(v1: ModelVote, v2: ModelVote, weights: tuple[float, float],
                          decision: Action, confidence: float) -> None:
    result = vote(v1, v2, "weighted", weights=weights)
    assert result.decision is decision
    assert result.confidence == pytest.approx(confidence)


def test_strategy_name_is_case_insensitive_and_checked() -> None:
    assert vote(mv(B, 0.9), mv(B, 0.9), " Majority ").decision is B
    with pytest.raises(ValueError, match="unknown voting strategy"):
        vote(mv(B, 0.9), mv(B, 0.9), "plurality")


def test_out_of_range_and_nan_confidences_are_clamped() -> None:
    assert vote(mv(B, 5.0), mv(B, 5.0)).confidence == 1.0
    assert vote(mv(B, float("nan")), mv(B, 0.9)).decision is H  # avg 0.45
    assert vote(mv(B, -3.0), err()).decision is H


actions = st.sampled_from([B, S, H])
confs = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
answer = st.builds(mv, actions, confs)
maybe = st.one_of(answer, st.builds(err, st.text(max_size=10)))
strategies = st.sampled_from(["majority", "unanimous", "weighted"])


@given(maybe, maybe, strategies)
def test_result_is_always_well_formed(v1: ModelVote, v2: ModelVote, strategy: str) -> None:
    r = vote(v1, v2, strategy)
    assert r.decision in (B, S, H)
    assert 0.0 <= r.confidence <= 1.0
    assert r.reason
    # A trade (BUY/SELL) only ever comes out with a confidence reaching the threshold used,
    # and only as an action some model actually voted for.
    if r.decision is not H:
        assert r.confidence >= r.threshold - 1e-9
        assert r.decision in {v.decision for v in (v1, v2) if v.ok}


@given(answer, answer, strategies)
def test_symmetric_under_swapping_models(v1: ModelVote, v2: ModelVote, strategy: str) -> None:
    # With equal weights the order of the models must not matter for the decision.
    a, b = vote(v1, v2, strategy), vote(v2, v1, strategy)
    assert a.decision is b.decision
    assert a.confidence == pytest.approx(b.confidence)


@given(actions, confs, strategies)
def test_agreement_above_threshold_always_wins(action: Action, c: float, strategy: str) -> None:
    r = vote(mv(action, c), mv(action, c), strategy)
    assert r.decision is (action if c >= 0.6 - 1e-9 else H)


# --- the rules at their edges (issue 24): both sides of each tolerance, the reason texts word
# for word, and `tally` (the backtest's text-free count) agreeing with `vote`.


def test_threshold_tolerance_is_inclusive_on_exactly_eps_and_not_beyond() -> None:
    # limit − EPS is the last confidence that still trades; one more EPS below is a HOLD.
    at = vote(mv(B, 0.55 - 1e-9), err(), single_threshold=0.55)
    assert (at.decision, at.confidence) == (B, 0.55 - 1e-9)
    below = vote(mv(B, 0.55 - 2e-9), err(), single_threshold=0.55)
    assert (below.decision, below.confidence) == (H, 0.55 - 2e-9)


def test_split_gap_tolerance_is_inclusive_on_exactly_eps_and_not_beyond() -> None:
    # |c1 − c2| is exactly SPLIT_GAP − EPS here (the other model at 0.0), so the split is
    # decided; 2·EPS short of the gap it is a HOLD, whatever the threshold.
    at = vote(mv(B, 0.2 - 1e-9), mv(S, 0.0), "majority", threshold=0.1)
    assert at.decision is B
    assert at.reason.endswith(": gap 0.20 ≥ 0.20, BUY 0.20 ≥ 0.10")
    short = vote(mv(B, 0.2 - 2e-9), mv(S, 0.0), "majority", threshold=0.1)
    assert short.decision is H
    assert short.reason == "split BUY 0.20 vs SELL 0.00: gap 0.20 < 0.20 → HOLD"


def test_a_vote_carrying_an_error_counts_as_errored_even_with_a_decision() -> None:
    # `ok` needs no error: a decision that came with an error text is not counted.
    a_bad = vote(mv(S, 0.9, error="late"), mv(B, 0.7))
    assert (a_bad.decision, a_bad.confidence) == (B, 0.7)
    assert a_bad.reason == "model A errored (late); B alone BUY 0.70 ≥ 0.55"
    b_bad = vote(mv(B, 0.7), mv(S, 0.9, error="late"))
    assert (b_bad.decision, b_bad.confidence) == (B, 0.7)
    assert b_bad.reason == "model B errored (late); A alone BUY 0.70 ≥ 0.55"


def test_confidences_just_outside_0_1_are_clamped_both_ways() -> None:
    assert vote(mv(B, 1.5), mv(B, 1.5)).confidence == 1.0
    assert vote(mv(B, -0.5), mv(B, 1.0)).confidence == 0.5  # the −0.5 counts as 0
    assert vote(mv(B, -0.5), err()).confidence == 0.0
    assert vote(mv(B, 1.2), err()).confidence == 1.0


REASONS = [
    ("agree", mv(B, 0.8), mv(B, 0.64), "majority", "both BUY, avg 0.72 ≥ 0.60"),
    ("agree-low", mv(S, 0.6), mv(S, 0.5), "majority", "both SELL, avg 0.55 < 0.60 → HOLD"),
    ("split-small-gap", mv(B, 0.8), mv(S, 0.7), "majority",
     "split BUY 0.80 vs SELL 0.70: gap 0.10 < 0.20 → HOLD"),
    ("split-decided", mv(S, 0.3), mv(B, 0.9), "majority",
     "split SELL 0.30 vs BUY 0.90: gap 0.60 ≥ 0.20, BUY 0.90 ≥ 0.60"),
    ("unanimous-split", mv(B, 0.9), mv(S, 0.8), "unanimous",
     "split BUY 0.90 vs SELL 0.80: unanimous needs agreement → HOLD"),
    ("weighted-win", mv(B, 0.9), mv(S, 0.2), "weighted",
     "weighted 0.5/0.5: BUY 0.45, SELL 0.10, BUY 0.45 < 0.60 → HOLD"),
    ("weighted-agree", mv(S, 0.8), mv(S, 0.6), "weighted",
     "weighted 0.5/0.5: SELL 0.70, SELL 0.70 ≥ 0.60"),
    ("weighted-tie", mv(B, 0.6), mv(S, 0.6), "weighted",
     "weighted 0.5/0.5: BUY 0.30, SELL 0.30: tie → HOLD"),
    ("single", err("HTTP 500"), mv(S, 0.5), "weighted",
     "model A errored (HTTP 500); B alone SELL 0.50 < 0.55 → HOLD"),
    ("both-errored", err("timeout"), mv(None), "unanimous",
     "both models errored (A: timeout; B: no decision) → HOLD"),
]


@pytest.mark.parametrize(("v1", "v2", "strategy", "reason"), [c[1:] for c in REASONS],
                         ids=[c[0] for c in REASONS])
def test_reason_text_word_for_word(v1: ModelVote, v2: ModelVote, strategy: str,
                                   reason: str) -> None:
    assert vote(v1, v2, strategy).reason == reason


def test_weighted_with_both_weights_zero_says_it_counted_them_equally() -> None:
    r = vote(mv(B, 0.8), mv(S, 0.2), "weighted", weights=(0.0, 0.0))
    assert r.reason == "weighted 0.5/0.5: BUY 0.40, SELL 0.10, BUY 0.40 < 0.60 → HOLD"


def test_weighted_weights_summing_to_eps_count_as_equal() -> None:
    # Σ weights = EPS exactly: no preference expressed, so A and B count 0.5 / 0.5 (had A's
    # 1e-9 counted alone, BUY 0.50 would lead).
    r = vote(mv(B, 0.5), mv(S, 0.9), "weighted", weights=(1e-9, 0.0))
    assert (r.decision, r.confidence) == (H, pytest.approx(0.45))
    assert "SELL 0.45, BUY 0.25" in r.reason


def test_weighted_tie_tolerance_is_inclusive_and_keeps_the_top_score() -> None:
    # A alone counts (weights 1/0): BUY 1e-9 against SELL 0 differ by exactly EPS: a tie.
    r = vote(mv(B, 1e-9), mv(S, 0.9), "weighted", weights=(1.0, 0.0))
    assert r.decision is H
    assert r.confidence == 1e-9
    assert r.reason.endswith(": tie → HOLD")


def test_unknown_strategy_message_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError) as exc:
        vote(mv(B, 0.9), mv(B, 0.9), "plurality")
    assert str(exc.value) == ("unknown voting strategy 'plurality' "
                              "(one of majority, unanimous, weighted)")
    with pytest.raises(ValueError) as exc:  # tally trusts its caller, yet still refuses
        tally(B, 0.9, B, 0.9, "plurality")
    assert str(exc.value) == ("unknown voting strategy 'plurality' "
                              "(one of majority, unanimous, weighted)")


def _bare(v: ModelVote) -> Action | None:
    return v.decision if v.ok else None


TALLY_CASES = [
    *CASES,
    ("wei-tie-exact", mv(B, 0.6), mv(S, 0.6), "weighted", H, 0.3, ""),
    ("una-split", mv(B, 0.9), mv(S, 0.8), "unanimous", H, 0.0, ""),
]


@pytest.mark.parametrize(("v1", "v2", "strategy"), [c[1:4] for c in TALLY_CASES],
                         ids=[c[0] for c in TALLY_CASES])
def test_tally_is_vote_without_the_words(v1: ModelVote, v2: ModelVote, strategy: str) -> None:
    r = vote(v1, v2, strategy)
    counted = tally(_bare(v1), v1.confidence, _bare(v2), v2.confidence, strategy)
    assert counted == (r.decision, r.confidence, "", r.threshold)


def test_tally_takes_the_thresholds_and_weights_it_is_given() -> None:
    assert tally(B, 0.7, B, 0.7, "majority", threshold=0.75) == (H, 0.7, "", 0.75)
    assert tally(B, 0.6, None, 0.0, "majority", single_threshold=0.65) == (H, 0.6, "", 0.65)
    assert tally(None, 0.0, S, 0.66, "unanimous", single_threshold=0.65) == (S, 0.66, "", 0.65)
    assert tally(None, 0.0, None, 0.0, "weighted", threshold=0.7) == (H, 0.0, "", 0.7)
    decision, score, reason, limit = tally(B, 0.9, S, 0.9, "weighted", weights=(0.8, 0.2))
    assert (decision, score, reason, limit) == (B, pytest.approx(0.72), "", 0.6)


def test_tally_defaults_to_majority_at_the_default_thresholds() -> None:
    assert tally(B, 0.8, B, 0.64) == (B, pytest.approx(0.72), "", 0.6)
    assert tally(B, 0.9, S, 0.2) == (B, 0.9, "", 0.6)  # majority: the split is decided
    assert tally(S, 0.55, None, 0.0) == (S, 0.55, "", 0.55)
