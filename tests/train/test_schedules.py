import math

import pytest

from starrec.config import ScheduleParams
from starrec.train.schedules import lr_at


@pytest.mark.parametrize(("cfg", "epoch", "expected"), [
    (ScheduleParams(name="constant"), 37, 0.1),
    (ScheduleParams(name="exponential", decay_rate=0.96, decay_epochs=20), 19, 0.1),
    (ScheduleParams(name="exponential", decay_rate=0.96, decay_epochs=20), 20, 0.096),
    (ScheduleParams(name="exponential", decay_rate=0.96, decay_epochs=20), 45, 0.1 * 0.96 ** 2),
    (ScheduleParams(name="exponential", decay_rate=0.96, decay_epochs=20, staircase=False), 10,
     0.1 * 0.96 ** 0.5),
    (ScheduleParams(name="time_decay", decay=0.01), 0, 0.1),
    (ScheduleParams(name="time_decay", decay=0.01), 10, 0.1 / 1.1),
    (ScheduleParams(name="time_decay", decay=0.5), 4, 0.1 / 3.0),
    (ScheduleParams(name="step", drop=0.5, decay_epochs=10), 9, 0.1),
    (ScheduleParams(name="step", drop=0.5, decay_epochs=10), 10, 0.05),
    (ScheduleParams(name="step", drop=0.5, decay_epochs=10), 25, 0.025),
    (ScheduleParams(name="cosine"), 0, 0.1),
    (ScheduleParams(name="cosine"), 20, 0.05),
    (ScheduleParams(name="cosine", min_lr=0.01), 20, 0.055),
    (ScheduleParams(name="cosine", min_lr=0.01), 40, 0.01),
    (ScheduleParams(name="cosine"), 10, 0.05 * (1 + math.cos(math.pi / 4))),
])
def test_documented_learning_rates(cfg, epoch, expected) -> None:
    assert lr_at(cfg, 0.1, epoch, 40) == pytest.approx(expected, rel=1e-9)
