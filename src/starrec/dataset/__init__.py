"""Dataset build: validate the faces, split them leakage-free, write and augment TFRecords."""
