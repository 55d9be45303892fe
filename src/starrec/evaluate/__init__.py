"""Evaluate stage: test-split metrics, eigenfaces baseline, plots and the promotion gate."""
