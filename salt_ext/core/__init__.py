"""Plain-Python core shared by the loader modules (no Salt dunders in here)."""
