"""The photo library: every face of a folder of photos recognised, indexed, clustered and
named (`starrec scan`, `clusters`, `name`, `report-library`)."""


class LibraryError(ValueError):
    """The library cannot go on (the message names the index, file or id and the reason)."""
