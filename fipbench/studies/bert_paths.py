"""The BERT study's paths (Fig. 5): which operation each applies, to which task, from which
path's node, and its family in Fig. 5E. Kept free of torch so the Snakefile reads it too."""

# path -> (operation, task or None, start path, family); co_cl<p> paths (path_spec) start
# from the co path's node at p % and learn IMDB
PATHS = {"base": ("mlm", None, None, "base"), "sparse": ("co", None, "base", "sparse"),
         "yelp": ("finetune", "yelp", "base", "CL"), "imdb_fip": ("cl", "imdb", "yelp", "CL"),
         "imdb_naive": ("finetune", "imdb", "yelp", "CL"), "co": ("co", None, "yelp", "Co-then-CL"),
         "cl_co": ("co", None, "imdb_fip", "CL-then-Co")}


def path_spec(path: str) -> tuple:
    """(operation, task, start path, family) of a path name (PATHS, or co_cl<p>)."""
    if path.startswith("co_cl"):
        return "cl", "imdb", "co", "Co-then-CL"
    if path not in PATHS:
        raise ValueError(f"unknown BERT path {path!r}; known: {', '.join(PATHS)}, co_cl<p>")
    return PATHS[path]


def all_paths(settings: dict) -> list[str]:
    """Every path of the study in an order where each comes after its start path."""
    return [*PATHS, *(f"co_cl{p}" for p in settings["path_sparsities"])]
