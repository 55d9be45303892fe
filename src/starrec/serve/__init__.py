"""Serving: the MLflow pyfunc model (photos in, named faces out) and loading any starrec
model — a registry alias or URI, a local .keras file, or the gallery of enrolled
stars — as one `Predictor`."""
