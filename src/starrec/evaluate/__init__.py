"""The evaluate stage's library: test-split metrics, eigenfaces baseline, the backbone beside
the CNN, plots and the promotion gate."""
