"""Prediction on new photos and videos, open-set ("unknown") calibration, MLflow serving."""
