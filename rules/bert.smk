# BERT customisation (Fig. 5): the text tokenized once per scale, then one job per path of
# FIP operations (each starts from a node of another path), the one-shot pruning baselines
# of Fig. 5A, and the perplexity query over every saved node (Fig. 5E).

BT = CFG["bert"]
BT_OUT = f"{RESULTS}/bert"
BT_WORK = f"work/{SCALE}/bert"
BT_TEXT = f"resources/{SCALE}/bert_text.pt"
BT_JSON = job_config(CFG, "bert")
BT_PATHS = all_paths(BT)


rule bert_text:
    output:
        BT_TEXT,
    log:
        f"logs/{SCALE}/bert/text.log",
    params:
        cfg=BT_JSON,
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} bert-text --out {output} > {log} 2>&1"


rule bert_path:
    input:
        text=BT_TEXT,
        start=lambda wc: bert_start(BT_OUT, BT_WORK, BT["seed"], wc.bert_path),
    output:
        metrics=f"{BT_OUT}/{{bert_path}}/seed{BT['seed']}/metrics.json",
        tasks=f"{BT_WORK}/{{bert_path}}/seed{BT['seed']}/tasks.json",
    log:
        f"logs/{SCALE}/bert/{{bert_path}}.log",
    wildcard_constraints:
        bert_path="|".join(BT_PATHS),
    params:
        cfg=BT_JSON,
    threads: CFG["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} bert-path --path {wildcards.bert_path} --text {input.text}"
        f" --results {BT_OUT} --work {BT_WORK} --threads {{threads}} > {{log}} 2>&1"


rule bert_oneshot:
    input:
        text=BT_TEXT,
        base=bert_start(BT_OUT, BT_WORK, BT["seed"], "sparse"),
        fip=f"{BT_OUT}/sparse/seed{BT['seed']}/metrics.json",  # its steps are the retraining budget
    output:
        f"{BT_OUT}/oneshot/seed{BT['seed']}/metrics.json",
    log:
        f"logs/{SCALE}/bert/oneshot.log",
    params:
        cfg=BT_JSON,
    threads: CFG["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} bert-oneshot --text {input.text}"
        f" --results {BT_OUT} --work {BT_WORK} --threads {{threads}} > {{log}} 2>&1"


rule bert_query:
    input:
        text=BT_TEXT,
        paths=[f"{BT_OUT}/{path}/seed{BT['seed']}/metrics.json" for path in BT_PATHS],
        nodes=[f"{BT_WORK}/{path}/seed{BT['seed']}/tasks.json" for path in BT_PATHS],
    output:
        f"{BT_OUT}/query/seed{BT['seed']}/metrics.json",
    log:
        f"logs/{SCALE}/bert/query.log",
    params:
        cfg=BT_JSON,
        paths=" ".join(BT_PATHS),
    threads: CFG["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} bert-query --paths {params.paths} --text {input.text}"
        f" --results {BT_OUT} --work {BT_WORK} --threads {{threads}} > {{log}} 2>&1"
