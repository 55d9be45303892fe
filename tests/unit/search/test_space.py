"""The search's random draw: log-uniform inside the ranges, seeded, reproducible."""

from __future__ import annotations

import math

import numpy as np
from helpers.params import section

from starrec.config import SearchChoices, SearchRange
from starrec.search.space import draw, set_args, unknown_params

SPACE = {"lr": SearchRange(low=1e-4, high=1e-1, scale="log"),
         "dropout": SearchRange(low=0.0, high=0.5, scale="linear"),
         "opt": SearchChoices(choices=["sgd", "momentum", "adam", "rmsprop"])}


def test_draw_is_inside_the_ranges_and_reproducible() -> None:
    trials = draw(SPACE, 400, seed=3)
    assert len(trials) == 400 and all(set(t) == set(SPACE) for t in trials)
    assert all(1e-4 <= t["lr"] <= 1e-1 and 0 <= t["dropout"] <= 0.5 for t in trials)
    assert {t["opt"] for t in trials} == {"sgd", "momentum", "adam", "rmsprop"}
    assert draw(SPACE, 400, seed=3) == trials
    assert draw(SPACE, 400, seed=4) != trials
    assert all(float(f"{t['lr']:.3g}") == t["lr"] for t in trials)  # 3 significant digits


def test_log_scale_is_uniform_in_the_exponent() -> None:
    """Each decade of 1e-4..1e-1 gets a third of the draws (a linear draw would put 90 % in
    the top decade)."""
    lr = np.array([t["lr"] for t in draw(SPACE, 3000, seed=0)])
    decades = np.histogram(np.log10(lr), bins=[-4, -3, -2, -1])[0] / len(lr)
    assert np.allclose(decades, 1 / 3, atol=0.04)
    assert abs(np.median(lr) - math.sqrt(1e-4 * 1e-1)) / math.sqrt(1e-4 * 1e-1) < 0.15


def test_set_args_and_params_check() -> None:
    trial = {"train.l2": 0.00123, "train.optimizer.name": "adam"}
    assert set_args(trial) == ["-S", "train.l2=0.00123", "-S", "train.optimizer.name=adam"]
    params = {"train": {"l2": 1e-4, "optimizer": {"name": "adam"}}}
    assert unknown_params(trial, params) == []
    assert unknown_params({"train.l3": 1, "train.l2.x": 1}, params) == ["train.l3", "train.l2.x"]


def test_params_yaml_space_is_valid() -> None:
    search = section("search")
    trials = draw(search.space, search.trials, search.seed)
    assert len(trials) == search.trials
    for name, dim in search.space.items():
        if isinstance(dim, SearchRange):
            assert all(dim.low <= t[name] <= dim.high for t in trials)
