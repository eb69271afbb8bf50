"""Weight-space geometry: the spectrum of the metric g of Eq. 2 (fipbench.fip.metric) of one
network in one state, at initialisation, trained (the network another study trained) or
after a FIP walk with L = 0 from the trained network (the ensemble sampler of Fig. 4A).

Per state: the top-k eigenvalues of g (Lanczos), stochastic Lanczos quadrature nodes (the
spectral density), the fraction of g's eigenvalues below 1e-3 and 1e-6 of the largest with
its standard error over the quadrature vectors, the effective rank, and the bound on g's
rank that the probe count alone forces (fipbench.fip.metric.rank_bound), so that degeneracy
beyond over-parameterisation shows as fraction_below - (1 - rank_bound / P) > 0."""

import time
from pathlib import Path

import torch

from fipbench import models
from fipbench.data.vision import load_splits, to_input
from fipbench.fip import EnsembleWalk, OutputDistance, sample_members
from fipbench.fip.metric import (effective_rank, flat_metric, fraction_below, quadrature_nodes, rank_bound,
                                 top_eigenvalues)
from fipbench.results import Job, start_job

STUDY = "geometry"
STATES = ("init", "trained", "fip")


def spectrum(cfg: dict, network: str, state: str, seed: int, data: Path, trained: Path | None, out_dir: Path,
             threads: int) -> None:
    """Measure g's spectrum of `network` in `state` on the first training images of `data`
    (the prepared dataset it was trained on); write the metrics. trained: the trained
    network's state_dict (for the states trained and fip)."""
    settings = cfg[STUDY]
    device = start_job(cfg, seed, threads)
    generator = torch.Generator().manual_seed(seed)
    task, source = load_splits(Path(data), device)
    with Job(out_dir, cfg, seed, device, threads, {Path(data).stem: source}) as job:
        model = models.build(network).to(device)
        if state != "init":
            model.load_state_dict(torch.load(trained, map_location=device))
        model.eval()
        probes = to_input(task["train"][0][:settings["probe_images"]])
        walk = {}
        if state == "fip":
            fip = EnsembleWalk.of(settings["fip"])
            distance = OutputDistance(model, probes, settings["distance"])
            members, records = sample_members(model, distance, fip, 1, generator)
            model.load_state_dict(members[-1])
            job.steps = fip.keep_every * fip.descent_steps
            walk = {"output_distance": records[-1]["distance"], "weight_distance": records[-1]["weight_distance"]}
        started = time.time()
        top, top_products = top_eigenvalues(model, probes, settings["top_k"], settings["distance"])
        job.timings["top_eigenvalues"] = round(time.time() - started, 3)
        g = flat_metric(model, probes, settings["distance"])
        started = time.time()
        nodes = quadrature_nodes(g, settings["quadrature"]["steps"], settings["quadrature"]["vectors"], generator)
        job.timings["quadrature"] = round(time.time() - started, 3)
        largest = float(top[0])
        with torch.no_grad():
            classes = model(probes[:1]).shape[1]
        bound = rank_bound(len(probes), classes, g.size)
        below = fraction_below(nodes, [t * largest for t in settings["relative_thresholds"]])
        job.finish({
            "network": network, "state": state, "parameters": g.size, "probes": len(probes), "classes": classes,
            "top_eigenvalues": [float(v) for v in top], "largest": largest,
            "fraction_below": {f"{t:.0e}": {"mean": mean, "standard_error": error}
                               for t, (mean, error) in zip(settings["relative_thresholds"], below.values())},
            "rank_bound": bound, "forced_zero_fraction": 1 - bound / g.size,
            "effective_rank": effective_rank(nodes, g.size),
            "quadrature": [{"values": values.tolist(), "weights": weights.tolist()} for values, weights in nodes],
            "metric_vector_products": top_products + g.calls,
            "walk": walk,
        })
