"""Baseline methods, one module each: avalanche-lib continual-learning plugins (ewc, gem,
agem, replay, lwf, si, run by avalanche_cl), our own continual-learning methods (naive, ogd),
pruning methods (lth, oneshot, random_sparse) and ensembles (deepnet, fge, adp)."""
