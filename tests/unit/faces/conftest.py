"""The pretrained face-model tests import their photo helpers from `face_photos` beside
this file; the model and data fixtures are in tests/unit/conftest.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # lets test modules import face_photos
