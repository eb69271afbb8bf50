"""Data layer: the mirror with checksums, dataset preparation, task splits."""
