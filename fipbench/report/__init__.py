"""Aggregation: tables (CSV + markdown) and figures (PNG + the CSV behind each) of one
scale, read only from the results folders' metrics.json and provenance.json; one module
per study, each with its aggregate(cfg, results), and the claims overview."""

import matplotlib

matplotlib.use("Agg")  # before any module here imports pyplot

from fipbench.report import bert, continual_2task, geometry, robustness, sparsity, task_sequence  # noqa: E402

AGGREGATORS = {module.__name__.rsplit(".", 1)[-1]: module.aggregate
               for module in (continual_2task, task_sequence, sparsity, robustness, geometry, bert)}
