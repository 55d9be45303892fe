"""Shot cuts: a jump in the frame's colour histogram. A cut ends every track, so a face in
the next shot never inherits the previous shot's identity or its box."""

from __future__ import annotations

import cv2
import numpy as np

BINS = (16, 8)  # hue, saturation
SMALL = (160, 120)  # histograms of a thumbnail: the same distance, a fraction of the work


def colour_hist(bgr: np.ndarray) -> np.ndarray:
    """Normalised hue-saturation histogram of a BGR frame."""
    hsv = cv2.cvtColor(cv2.resize(bgr, SMALL, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, list(BINS), [0, 180, 0, 256])
    return cv2.normalize(hist, hist, 1.0, 0.0, cv2.NORM_L1)


def cut_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance of two histograms: 0 same colours, 1 nothing shared."""
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))
