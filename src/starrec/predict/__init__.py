"""Naming the stars in new photos, videos and camera frames (`starrec predict`)."""
