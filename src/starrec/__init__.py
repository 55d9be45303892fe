"""starrec: star face recognition."""
