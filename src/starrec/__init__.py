"""starrec: star face recognition.

Importing it first makes a later TensorFlow import quiet (starrec.log), so the stages'
logs and the CLI carry no TensorFlow start-up lines.
"""

from starrec.log import quiet_tensorflow_imports

quiet_tensorflow_imports()
