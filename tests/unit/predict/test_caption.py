"""How a face is labelled on the annotated photo and in predictions.csv: a known face by name
and confidence; an unknown one by its rejected best guess, that guess's open-set score and
the threshold it missed (not "unknown 0.86", which reads as 86 % sure it is unknown)."""

from __future__ import annotations

import numpy as np

from starrec.predict.predict import FileResult, draw, rows
from starrec.predict.recognize import FacePrediction

KNOWN = FacePrediction(box=(10, 30, 40, 40), label="Tony_Blair", confidence=0.97, score=0.97,
                       top=[("Tony_Blair", 0.97), ("Colin_Powell", 0.02)], threshold=0.94)
UNKNOWN = FacePrediction(box=(60, 30, 40, 40), label="unknown", confidence=0.861, score=0.861,
                         top=[("Hugo_Chavez", 0.861), ("Tony_Blair", 0.1)], threshold=0.94)


def test_captions() -> None:
    assert KNOWN.caption == "Tony_Blair 0.97"
    assert UNKNOWN.caption == "unknown (best: Hugo_Chavez 0.86 < 0.94)"
    assert UNKNOWN.to_json()["caption"] == UNKNOWN.caption


def test_csv_and_drawing_carry_the_caption() -> None:
    result = FileResult(file="a.jpg", kind="image", frames=[(0, [KNOWN, UNKNOWN])])
    table = rows([result], top_k=2)
    assert table["caption"].tolist() == [KNOWN.caption, UNKNOWN.caption]
    assert table["threshold"].tolist() == [0.94, 0.94]
    photo = np.zeros((120, 120, 3), np.uint8)
    drawn = draw(photo, [UNKNOWN])
    red = (drawn[..., 0] > 200) & (drawn[..., 1] < 60)
    assert red[30:70, 60].all()  # the box's left edge, red for unknown
    assert red[:, 60:].sum() > red[30:70, 60:101].sum()  # and the caption's red band
