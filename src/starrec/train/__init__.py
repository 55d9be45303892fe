"""The `train` stage: Keras models, LR schedules, devices, and the MLflow-tracked training run."""
