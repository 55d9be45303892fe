import math

import pytest
from helpers.params import section


def schedule(**over):
    return section("train", schedule=over).schedule

from starrec.train.schedules import lr_at


@pytest.mark.parametrize(("cfg", "epoch", "expected"), [
    (schedule(name="constant"), 37, 0.1),
    (schedule(name="exponential", decay_rate=0.96, decay_epochs=20), 19, 0.1),
    (schedule(name="exponential", decay_rate=0.96, decay_epochs=20), 20, 0.096),
    (schedule(name="exponential", decay_rate=0.96, decay_epochs=20), 45, 0.1 * 0.96 ** 2),
    (schedule(name="exponential", decay_rate=0.96, decay_epochs=20, staircase=False), 10,
     0.1 * 0.96 ** 0.5),
    (schedule(name="time_decay", decay=0.01), 0, 0.1),
    (schedule(name="time_decay", decay=0.01), 10, 0.1 / 1.1),
    (schedule(name="time_decay", decay=0.5), 4, 0.1 / 3.0),
    (schedule(name="step", drop=0.5, decay_epochs=10), 9, 0.1),
    (schedule(name="step", drop=0.5, decay_epochs=10), 10, 0.05),
    (schedule(name="step", drop=0.5, decay_epochs=10), 25, 0.025),
    (schedule(name="cosine"), 0, 0.1),
    (schedule(name="cosine"), 20, 0.05),
    (schedule(name="cosine", min_lr=0.01), 20, 0.055),
    (schedule(name="cosine", min_lr=0.01), 40, 0.01),
    (schedule(name="cosine"), 10, 0.05 * (1 + math.cos(math.pi / 4))),
])
def test_documented_learning_rates(cfg, epoch, expected) -> None:
    assert lr_at(cfg, 0.1, epoch, 40) == pytest.approx(expected, rel=1e-9)
