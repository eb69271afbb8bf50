"""DeepNet ensemble: independently trained networks (different seeds), nothing shared.
Trials of the ensemble are disjoint subsets of one pool of trained networks."""


def members_of_trial(pool: list[int], size: int, trial: int) -> list[int]:
    """The pool seeds of trial `trial` (0, 1, ...): the trial-th block of `size`
    consecutive seeds of the pool, so that no network is in two trials."""
    if (trial + 1) * size > len(pool):
        raise ValueError(f"trial {trial} of a DeepNet ensemble of {size} needs a pool of at least "
                         f"{(trial + 1) * size} networks (disjoint trials), not {len(pool)}")
    return pool[trial * size:(trial + 1) * size]
