"""Training the star classifier: Keras models, LR schedules, devices, the training loop
(shared with pretrain) and the MLflow run of the `train` stage."""
