"""Baseline methods, one module each. AVALANCHE_PLUGINS maps a method name to the function
that builds its avalanche-lib plugin from (settings, memory_size)."""

from baselines import ewc, gem, replay

AVALANCHE_PLUGINS = {"ewc": ewc.plugin, "gem": gem.plugin, "replay": replay.plugin}
