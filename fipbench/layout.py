"""Where results live, without torch (the rules, the claims check, the report and the
studies read it from here): one folder per job, <root>/<study>/<method>/seed<k>/ holding
metrics.json and provenance.json. The sparsity study puts its <network> between study and
method, the task sequence its <stream>; a validation grid writes
tune/<method>/<parameter>-<value>/ and its pick tune/<method>/chosen.json. The Snakemake
rules spell the same folders as patterns, and seeds_of says which seed folders each
study's methods write."""

from pathlib import Path


def seed_folder(root: Path, *parts: str, seed: int) -> Path:
    """root/<parts...>/seed<seed>: one job's results (or its networks under work/)."""
    return Path(root).joinpath(*parts, f"seed{seed}")


def seed_of(folder: Path) -> int:
    """The seed of a folder seed_folder made: .../seed7 -> 7."""
    return int(Path(folder).name.removeprefix("seed"))


def sparsity_seeds(cfg: dict, network: str) -> list[int]:
    """Seeds of one network of the sparsity study: its own `seeds` key, else cfg["seeds"]."""
    return cfg["sparsity"][network].get("seeds", cfg["seeds"])


def seeds_of(cfg: dict, study: str) -> list[int] | dict[str, list[int]]:
    """The seed folders a study's methods write: cfg["seeds"], except in the robustness
    study, where seed k is the k-th trial of an ensemble's construction and each method
    has its own number of trials (and `network` is the trained pool), in the sparsity
    study, where a network may name its own seeds, and in the geometry and BERT studies
    (their own seeds; BERT has one)."""
    if study == "geometry":
        return cfg["geometry"]["seeds"]
    if study == "bert":
        return [cfg["bert"]["seed"]]
    if study == "sparsity":
        networks = [key for key, value in cfg["sparsity"].items() if isinstance(value, dict)]
        return {f"{network}/{method}": sparsity_seeds(cfg, network)
                for network in networks for method in [*cfg["sparsity"]["methods"], "dense"]}
    if study == "robustness":
        settings = cfg["robustness"]
        return {"network": list(range(settings["pool"])),
                **{method: list(range(n)) for method, n in settings["trials"].items()}}
    return cfg["seeds"]
