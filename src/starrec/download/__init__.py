"""The `download` stage: photos from a URL list, the LFW archive or a folder/archive, into
`data/raw/<class>/<file>` plus a manifest row for every item seen."""

from starrec.download.stage import download

__all__ = ["download"]
