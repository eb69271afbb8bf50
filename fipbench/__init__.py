"""fipbench: reproduce "Engineering flexible machine learning systems by traversing
functionally-invariant paths" (Raghavan & Thomson) from raw data."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
