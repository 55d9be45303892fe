"""Hyper-parameter search: random trials as queued DVC experiments, ranked from MLflow."""
