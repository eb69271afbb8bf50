# fipbench workflow: `snakemake --cores all` runs the default (laptop) scale;
# `snakemake --cores all --config scale=smoke` picks another. See README.md.

include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/continual_2task.smk"
include: "rules/task_sequence.smk"
include: "rules/sparsity.smk"
include: "rules/robustness.smk"
include: "rules/geometry.smk"
include: "rules/bert.smk"
include: "rules/report.smk"


rule all:
    input:
        f"{RESULTS}/claims.md",
