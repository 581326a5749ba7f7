"""The time-step SG baselines (rules.baselines): counts against formulas written out here and
against the slow twin (tests/reference/baselines.py), every op kind counted and priced, and
bad parameters rejected by name."""
import math
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurochip.chip.spec import Profile
from neurochip.rules.baselines import (
    GPUEstimate,
    TimeStepAccelerator,
    baseline_table,
    constants,
    mac_pj,
    op_pj,
    sram_pj_per_byte,
)
from neurochip.rules.rule import RuleError
from tests.reference.baselines import accelerator_counts, gpu_counts

# A small network [n0, n1, C], T steps, spike counts S0 (input) and S1 (hidden) per sample.
n0, n1, C, T = 3, 4, 2, 5
S0, S1 = 6, 5
ACT = [Fraction(S0, n0 * T), Fraction(S1, n1 * T)]
W0, W1 = n0 * n1, n1 * C
w, g, b = 32, 32, 16                     # fp32 operands, 32-bit accumulators, 16-bit state
STATE_BITS = T * (n0 + n1 * (b + 1) + C * b)


@pytest.mark.parametrize("acc", ["register", "memory"])
@pytest.mark.parametrize("reset", ["detached", "full"])
@pytest.mark.parametrize("backward", ["dense", "event"])
def test_accelerator_counts_equal_the_formulas_all_in_sram(reset, backward, acc):
    m = TimeStepAccelerator(reset_term=reset, backward=backward, sram_bytes=10**4, weight_sram_bytes=10**4,
                            gradient_accumulator=acc)
    fwd = T * (W0 + W1) if backward == "dense" else S0 * n1 + S1 * C
    grad = (W0 + W1) * g // 8 if acc == "register" else fwd * 2 * g // 8
    want = {
        "forward_macs": fwd, "neuron_updates": T * n1, "readout_errors": T * C,
        "backward_macs": T * W1, "gradient_macs": fwd, "surrogate_evals": T * n1, "temporal_macs": T * n1,
        "reset_macs": T * n1 if reset == "full" else 0, "update_macs": W0 + W1,
        "forward_weight_bytes_sram": fwd * w // 8, "forward_weight_bytes_dram": 0,
        "backward_weight_bytes_sram": T * W1 * w // 8, "backward_weight_bytes_dram": 0,
        "gradient_bytes_sram": grad, "gradient_bytes_dram": 0,
        "update_bytes_sram": (W0 + W1) * (2 * w + g) // 8, "update_bytes_dram": 0,
        "state_write_bytes_sram": Fraction(STATE_BITS, 8), "state_write_bytes_dram": 0,
        "state_read_bytes_sram": Fraction(STATE_BITS, 8), "state_read_bytes_dram": 0,
    }
    assert m.counts([n0, n1, C], T, ACT) == want


@pytest.mark.parametrize("acc", ["register", "memory"])
def test_accelerator_spills_state_and_weights_to_dram(acc):
    # W0 with its gradients (96 B) fits 100 B of weight SRAM, W1 (64 B more) does not;
    # 40 B of the 64.375 B of state fit the state SRAM.
    m = TimeStepAccelerator(sram_bytes=40, weight_sram_bytes=100, batch=4, gradient_accumulator=acc)
    assert W0 * (w + g) // 8 == 96 and W1 * (w + g) // 8 == 64
    c = m.counts([n0, n1, C], T)
    assert c["forward_weight_bytes_sram"] == T * W0 * w // 8
    assert c["forward_weight_bytes_dram"] == T * W1 * w // 8
    assert c["backward_weight_bytes_sram"] == 0 and c["backward_weight_bytes_dram"] == T * W1 * w // 8
    if acc == "register":   # once per sample, at each matrix's level
        assert c["gradient_bytes_sram"] == W0 * g // 8 and c["gradient_bytes_dram"] == W1 * g // 8
    else:
        assert c["gradient_bytes_sram"] == T * W0 * 2 * g // 8 and c["gradient_bytes_dram"] == T * W1 * 2 * g // 8
    assert c["update_bytes_sram"] == Fraction(W0 * (2 * w + g), 8 * 4)
    assert c["update_bytes_dram"] == Fraction(W1 * (2 * w + g), 8 * 4)
    assert c["update_macs"] == Fraction(W0 + W1, 4)
    assert c["state_write_bytes_sram"] == c["state_read_bytes_sram"] == 40
    assert c["state_write_bytes_dram"] == c["state_read_bytes_dram"] == Fraction(STATE_BITS, 8) - 40
    fp = m.footprint([n0, n1, C], T)
    assert fp["matrix_levels"] == ["sram", "dram"] and fp["state_bytes"] == Fraction(STATE_BITS, 8)


def test_accelerator_placement_at_the_exact_capacity():
    state = Fraction(STATE_BITS, 8)
    fit = TimeStepAccelerator(sram_bytes=state, weight_sram_bytes=96).counts([n0, n1, C], T)
    assert fit["state_write_bytes_sram"] == state and fit["state_write_bytes_dram"] == 0
    assert fit["forward_weight_bytes_sram"] == T * W0 * w // 8     # W0 fills the 96 B exactly
    short = TimeStepAccelerator(sram_bytes=state - Fraction(1, 8), weight_sram_bytes=95).counts([n0, n1, C], T)
    assert short["state_write_bytes_dram"] == Fraction(1, 8)         # one bit over
    assert short["forward_weight_bytes_sram"] == T * W1 * w // 8     # W0 no longer fits; W1 (64 B) does


def test_accelerator_two_hidden_layers_with_recurrence_event():
    # [2, 3, 4, 2], recurrent on the second hidden layer; S = spikes of input, h1, h2.
    sizes, T2, S = [2, 3, 4, 2], 3, (4, 3, 6)
    act = [Fraction(S[p], sizes[p] * T2) for p in range(3)]
    model = TimeStepAccelerator(backward="event", reset_term="full", arithmetic="int8", state_bits=8)
    c = model.counts(sizes, T2, act, recurrent=[False, True])
    cm = replace(model, gradient_accumulator="memory").counts(sizes, T2, act, recurrent=[False, True])
    assert c["forward_macs"] == c["gradient_macs"] == S[0] * 3 + S[1] * 4 + S[2] * 2 + S[2] * 4
    assert c["backward_macs"] == T2 * (3 * 4 + 4 * 2 + 4 * 4)      # all but W0, recurrent included
    assert c["neuron_updates"] == c["surrogate_evals"] == c["reset_macs"] == T2 * 7
    assert c["forward_weight_bytes_sram"] == c["forward_macs"] * 8 // 8
    W = 2 * 3 + 3 * 4 + 4 * 2 + 4 * 4
    assert c["gradient_bytes_sram"] == W * 32 // 8                  # register: one write per synapse
    assert cm["gradient_bytes_sram"] == c["gradient_macs"] * 2 * 32 // 8
    assert {k: v for k, v in cm.items() if k != "gradient_bytes_sram"} == \
        {k: v for k, v in c.items() if k != "gradient_bytes_sram"}
    bits = T2 * (2 + 7 * (8 + 1) + 2 * 8)
    assert c["state_write_bytes_sram"] == Fraction(bits, 8)
    assert c["update_macs"] == W


@pytest.mark.parametrize("reset", ["detached", "full"])
@pytest.mark.parametrize("cache", [10**9, 0])
def test_gpu_counts_equal_the_formulas(reset, cache):
    m = GPUEstimate(reset_term=reset, cache_bytes=cache, batch=2)
    e, W, N = 4, W0 + W1, n1
    resident = cache > 0
    want = {
        "forward_mac_flops": 2 * T * W, "neuron_flops": 3 * T * N,
        "forward_weight_bytes": Fraction(W * e * (1 if resident else T), 2),
        "activation_bytes": T * e * (n0 + 4 * N + 2 * C),
        "readout_error_flops": 8 * T * C, "backward_mac_flops": 2 * T * W1, "gradient_mac_flops": 2 * T * W,
        "surrogate_flops": 8 * T * N, "temporal_flops": 2 * T * N, "reset_flops": 2 * T * N if reset == "full" else 0,
        "update_flops": Fraction(2 * W, 2), "state_read_bytes": T * e * (n0 + 2 * N),
        "error_bytes": T * e * (2 * C + 4 * N),
        "backward_weight_bytes": 0 if resident else Fraction(T * e * W1, 2),
        "gradient_bytes": 0 if resident else Fraction(2 * T * 4 * W, 2),
        "update_bytes": Fraction(W * e, 2) if resident else Fraction(W * (2 * e + 4), 2),
    }
    assert m.counts([n0, n1, C], T) == want


# -- closed form == naive twin ----------------------------------------------------------------

@st.composite
def samples(draw):
    L = draw(st.integers(1, 2))
    sizes = [draw(st.integers(1, 5)) for _ in range(L + 2)]
    T = draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rates = [draw(st.floats(0, 1)) for _ in range(L + 1)]
    rasters = [(rng.random((T, sizes[p])) < rates[p]).astype(np.int8) for p in range(L + 1)]
    recurrent = [draw(st.booleans()) for _ in range(L)]
    return sizes, T, rasters, recurrent


def _activity(rasters):
    return [Fraction(int(r.sum()), r.size) for r in rasters]


@settings(max_examples=150, deadline=None)
@given(samples(), st.sampled_from(["detached", "full"]), st.sampled_from(["dense", "event"]),
       st.sampled_from(["fp32", "fp16", "int16", "int8"]), st.integers(1, 24), st.integers(0, 400),
       st.integers(0, 1200), st.integers(1, 8), st.sampled_from(["register", "memory"]))
def test_accelerator_closed_form_equals_the_twin(sample, reset, backward, arith, state_bits, sram, wsram, batch,
                                                 acc):
    sizes, T, rasters, recurrent = sample
    m = TimeStepAccelerator(reset_term=reset, backward=backward, arithmetic=arith, state_bits=state_bits,
                            sram_bytes=sram, weight_sram_bytes=wsram, batch=batch, gradient_accumulator=acc)
    assert m.counts(sizes, T, _activity(rasters), recurrent) == accelerator_counts(m, sizes, rasters, recurrent)


@settings(max_examples=100, deadline=None)
@given(samples(), st.sampled_from(["detached", "full"]), st.sampled_from(["fp32", "fp16"]),
       st.integers(0, 2000), st.integers(1, 8))
def test_gpu_closed_form_equals_the_twin(sample, reset, arith, cache, batch):
    sizes, T, rasters, recurrent = sample
    m = GPUEstimate(reset_term=reset, arithmetic=arith, cache_bytes=cache, batch=batch)
    assert m.counts(sizes, T, _activity(rasters), recurrent) == gpu_counts(m, sizes, rasters, recurrent)


# -- nothing dropped: every kind counted and priced ---------------------------------------------

# Both levels used: with the recurrent matrix R (128 B with gradients), W1 (64 B) fits 70 B of
# weight SRAM, W0 (96 B) and R do not; 40 of the 64.375 B of state fit.
SPILL = {"reset_term": "full", "sram_bytes": 40, "weight_sram_bytes": 70}


@pytest.mark.parametrize("model", [TimeStepAccelerator(**SPILL), TimeStepAccelerator(backward="event", **SPILL),
                                   GPUEstimate(reset_term="full", cache_bytes=0)], ids=lambda m: m.name)
def test_every_kind_is_counted_and_priced(model):
    c = model.counts([n0, n1, C], T, ACT, recurrent=[True])
    assert set(c) == set(model.prices()) and all(v > 0 for v in c.values()), c
    e = model.energy_pj(c)
    kinds = [k for k in e if k not in ("total", "forward", "learning_phase")]
    assert kinds == list(c) and all(e[k] > 0 for k in kinds)
    assert math.isclose(e["total"], sum(e[k] for k in kinds), rel_tol=1e-12)
    assert math.isclose(e["forward"], sum(e[k] for k in model.FORWARD), rel_tol=1e-12)
    assert math.isclose(e["learning_phase"], sum(e[k] for k in kinds if k not in model.FORWARD), rel_tol=1e-12)
    assert set(model.FORWARD) < set(c)
    for k in kinds:   # each kind moves the total by its own price
        more = dict(c, **{k: c[k] + 1})
        assert math.isclose(model.energy_pj(more)["total"] - e["total"], model.prices()[k], rel_tol=1e-9)


def test_detached_reset_has_no_reset_ops_and_costs_less():
    d, f = TimeStepAccelerator(), TimeStepAccelerator(reset_term="full")
    cd, cf = d.counts([n0, n1, C], T), f.counts([n0, n1, C], T)
    assert cd["reset_macs"] == 0 and cf["reset_macs"] == T * n1
    assert {k: v for k, v in cd.items() if k != "reset_macs"} == {k: v for k, v in cf.items() if k != "reset_macs"}
    extra = f.energy_pj(cf)["learning_phase"] - d.energy_pj(cd)["learning_phase"]
    assert extra == pytest.approx(T * n1 * mac_pj("fp32"), rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(samples())
def test_event_equals_dense_when_everything_spikes(sample):
    sizes, T, rasters, recurrent = sample
    ones = [1] * len(rasters)
    assert TimeStepAccelerator(backward="event").counts(sizes, T, ones, recurrent) == \
        TimeStepAccelerator(backward="dense").counts(sizes, T, None, recurrent)


@pytest.mark.parametrize("backward", ["dense", "event"])
def test_register_accumulator_writes_each_gradient_once(backward):
    # register: |W| g/8 per sample whatever T and the spikes; memory: 2 g/8 per gradient MAC.
    # Everything else is the same, so the energies differ by the gradient traffic alone.
    sizes, T16, act = [64, 128, 10], 16, [Fraction(1, 5), Fraction(1, 10)]
    W = 64 * 128 + 128 * 10
    reg = TimeStepAccelerator(backward=backward)
    mem = TimeStepAccelerator(backward=backward, gradient_accumulator="memory")
    assert reg.gradient_accumulator == "register"     # the default
    cr, cm = reg.counts(sizes, T16, act), mem.counts(sizes, T16, act)
    assert cr["gradient_bytes_sram"] + cr["gradient_bytes_dram"] == W * g // 8
    assert cm["gradient_bytes_sram"] + cm["gradient_bytes_dram"] == cm["gradient_macs"] * 2 * g / 8
    assert cr["gradient_macs"] == cm["gradient_macs"]
    assert cr["gradient_bytes_sram"] < cm["gradient_bytes_sram"]
    assert {k: v for k, v in cr.items() if not k.startswith("gradient_bytes")} == \
        {k: v for k, v in cm.items() if not k.startswith("gradient_bytes")}
    er, em = reg.energy_pj(cr), mem.energy_pj(cm)
    assert er["forward"] == em["forward"]
    saved = (cm["gradient_bytes_sram"] - cr["gradient_bytes_sram"]) * sram_pj_per_byte(reg.weight_sram_bytes) + \
        (cm["gradient_bytes_dram"] - cr["gradient_bytes_dram"]) * reg.dram_pj_per_byte
    assert em["learning_phase"] - er["learning_phase"] == pytest.approx(float(saved), rel=1e-9)


def test_event_backward_costs_less_than_dense_at_low_rates():
    dense, event = TimeStepAccelerator(), TimeStepAccelerator(backward="event")
    sizes, act = [64, 128, 10], [0.2, 0.1]
    ed, ee = dense.energy_pj(dense.counts(sizes, 16)), event.energy_pj(event.counts(sizes, 16, act))
    assert ee["forward"] < ed["forward"] and ee["learning_phase"] < ed["learning_phase"]


# -- constants ------------------------------------------------------------------------------------

def test_fp32_prices_are_the_horowitz_profile_rows():
    p = Profile.preset("horowitz45nm")
    assert mac_pj("fp32") == pytest.approx(p.cost("syn_ops"), rel=1e-12)
    assert op_pj("neuron_update", "fp32") == pytest.approx(p.cost("neuron_updates_active"), rel=1e-12)
    assert op_pj("surrogate", "fp32") == pytest.approx(p.cost("surrogate_evals"), rel=1e-12)
    assert sram_pj_per_byte(32 * 1024) == pytest.approx(p.cost("state_read_bytes"), rel=1e-12)
    assert constants()["mult_fp32_pj"].value == pytest.approx(3.7, rel=1e-12)   # Horowitz's 32-bit FP mult


def test_sram_price_passes_through_the_table_and_grows_with_size():
    for size, pj64 in ((8 * 1024, 10.0), (32 * 1024, 20.0), (1024 * 1024, 100.0)):
        assert sram_pj_per_byte(size) == pytest.approx(pj64 / 8, rel=1e-12)
    assert sram_pj_per_byte(0) == sram_pj_per_byte(8 * 1024)
    sizes = [8 * 1024, 20 * 1024, 32 * 1024, 108 * 1024, 1024 * 1024, 4 * 1024 * 1024]
    prices = [sram_pj_per_byte(s) for s in sizes]
    assert prices == sorted(prices) and len(set(prices)) == len(prices)
    assert sram_pj_per_byte(sizes[-1]) * 8 < constants()["dram_64bit_pj"].value


def test_every_constant_and_parameter_has_a_source():
    for name, c in constants().items():
        assert c.source and (c.basis == "published" or c.basis.startswith(("derived", "profile"))), name
    for row in baseline_table([TimeStepAccelerator(), GPUEstimate()]):
        assert row["name"]
        for k, v in row["parameters"].items():
            assert set(v) == {"value", "unit", "source"} and v["source"], (row["name"], k)
    fields = {"reset_term", "backward", "arithmetic", "state_bits", "sram_bytes", "weight_sram_bytes", "batch",
              "dram_pj_per_byte", "gradient_accumulator"}
    assert fields <= set(TimeStepAccelerator().assumptions())
    acc = TimeStepAccelerator(gradient_accumulator="memory").assumptions()["gradient_accumulator"]
    assert acc["value"] == "memory" and "output-stationary" in acc["source"] and "Eyeriss" in acc["source"]
    assert GPUEstimate().assumptions()["pj_per_flop"]["value"] == pytest.approx(300 / 15.7e12 * 1e12)


# -- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, kwargs, words", [
    (TimeStepAccelerator, {"sram_bytes": -1}, ["sram_bytes", "-1", ">= 0"]),
    (TimeStepAccelerator, {"weight_sram_bytes": float("inf")}, ["weight_sram_bytes", "inf", "finite"]),
    (TimeStepAccelerator, {"arithmetic": "fp8"}, ["arithmetic", "'fp8'", "int8"]),
    (TimeStepAccelerator, {"reset_term": "none"}, ["reset_term", "'none'", "detached"]),
    (TimeStepAccelerator, {"backward": "sparse"}, ["backward", "'sparse'", "event"]),
    (TimeStepAccelerator, {"gradient_accumulator": "cache"},
     ["gradient_accumulator", "'cache'", "'register'", "'memory'"]),
    (TimeStepAccelerator, {"state_bits": 0}, ["state_bits", "0", "1 to 64"]),
    (TimeStepAccelerator, {"batch": 0}, ["batch", "0", ">= 1"]),
    (TimeStepAccelerator, {"dram_pj_per_byte": 0}, ["dram_pj_per_byte", "0", "> 0"]),
    (GPUEstimate, {"arithmetic": "int8"}, ["arithmetic", "'int8'", "fp16"]),
    (GPUEstimate, {"cache_bytes": -5}, ["cache_bytes", "-5", ">= 0"]),
    (GPUEstimate, {"pj_per_flop": -1.0}, ["pj_per_flop", "-1.0", "> 0"]),
    (GPUEstimate, {"batch": 2.5}, ["batch", "2.5", ">= 1"]),
])
def test_bad_parameters_are_named(cls, kwargs, words):
    with pytest.raises(RuleError) as e:
        cls(**kwargs)
    assert all(w in str(e.value) for w in words), str(e.value)


@pytest.mark.parametrize("args, words", [
    (([3, 4, 2], 0, [0.1, 0.1]), ["T", "0", ">= 1"]),
    (([3, 4], 5, None), ["sizes", ">= 3"]),
    (([3, 0, 2], 5, [0.1, 0.1]), ["sizes[1]", "0", ">= 1"]),
    (([3, 4, 2], 5, [0.1]), ["activity", "2 rates", "1"]),
    (([3, 4, 2], 5, [0.1, 1.5]), ["activity[1]", "1.5", "0 <= rate <= 1"]),
    (([3, 4, 2], 5, None), ["event", "activity"]),
])
def test_bad_networks_are_named(args, words):
    with pytest.raises(RuleError) as e:
        TimeStepAccelerator(backward="event").counts(*args)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_bad_recurrent_flags_and_counts_are_named():
    with pytest.raises(RuleError, match=r"recurrent must be 1 flags.*\[True, False\]"):
        GPUEstimate().counts([3, 4, 2], 5, recurrent=[True, False])
    with pytest.raises(RuleError, match=r"unknown count kind\(s\) \['spikes'\]"):
        GPUEstimate().energy_pj({"spikes": 3})
