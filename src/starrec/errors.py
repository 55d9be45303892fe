"""The errors a stage turns into one line and exit 1 (starrec.stage.run_stage): raised by the
library modules, so they live below both."""


class StageError(RuntimeError):
    """The stage cannot go on; the message is one line naming the file and the reason."""
