"""TensorFlow imported after starrec, by anyone (keras here), writes no start-up lines: the
stages' logs under `dvc repro` and the CLI stay free of absl/oneDNN noise."""

from __future__ import annotations

import os
import subprocess
import sys

NOISE = ("oneDNN", "absl::InitializeLog", "cpu_feature_guard")


def stderr_of(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True).stderr


def test_keras_after_starrec_is_quiet_and_works() -> None:
    loud = stderr_of("import keras")
    assert any(n in loud for n in NOISE), "TensorFlow no longer prints these: drop the hook"
    quiet = stderr_of("import starrec, keras, numpy as np\n"
                      "m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])\n"
                      "assert m.predict(np.ones((1, 3)), verbose=0).shape == (1, 2)\n"
                      "import sys; print('python errors still show', file=sys.stderr)")
    assert not any(n in quiet for n in NOISE), quiet
    assert "python errors still show" in quiet
