"""Baseline methods, one module each: avalanche-lib continual-learning plugins (ewc, gem,
replay, run by avalanche_cl), pruning methods (lth, oneshot, random_sparse) and ensembles
(deepnet, fge, adp)."""
