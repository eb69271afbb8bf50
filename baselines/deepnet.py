"""DeepNet ensemble: independently trained networks (different seeds), nothing shared.
Trials of the ensemble are different subsets of one pool of trained networks."""


def members_of_trial(pool: list[int], size: int, trial: int) -> list[int]:
    """The pool seeds of trial `trial`: `size` consecutive seeds of the pool, starting at
    position trial and wrapping around (trials overlap when the pool is small)."""
    if size > len(pool):
        raise ValueError(f"a DeepNet ensemble of {size} needs a pool of at least {size} networks, not {len(pool)}")
    return [pool[(trial + i) % len(pool)] for i in range(size)]
