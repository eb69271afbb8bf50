# Task sequences (Fig. 2D-F(ii)): the network learns task 1 of the configured stream, then
# every later task with each method, one job per method x seed.

TS = CFG["task_sequence"]
TS_STREAM = TS["stream"]
TS_OUT = f"{RESULTS}/task_sequence/{TS_STREAM}"
TS_WORK = f"work/{SCALE}/task_sequence/{TS_STREAM}"
TS_DATA = f"resources/{SCALE}/{TS[TS_STREAM]['dataset']}.pt"
TS_JSON = job_config(CFG, "task_sequence")


rule ts_first_task:
    input:
        TS_DATA,
    output:
        metrics=f"{TS_OUT}/first_task/seed{{seed}}/metrics.json",
        model=f"{TS_WORK}/first_task/seed{{seed}}/model.pt",
    log:
        f"logs/{SCALE}/task_sequence/{TS_STREAM}_first_task_seed{{seed}}.log",
    wildcard_constraints:
        seed=r"\d+",
    params:
        cfg=TS_JSON,
    threads: CFG["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} first-task --seed {wildcards.seed} --data {input}"
        " --threads {threads} --checkpoint {output.model} --out $(dirname {output.metrics}) > {log} 2>&1"


rule ts_learn:
    input:
        data=TS_DATA,
        first=f"{TS_WORK}/first_task/seed{{seed}}/model.pt",
    output:
        f"{TS_OUT}/{{ts_method}}/seed{{seed}}/metrics.json",
    log:
        f"logs/{SCALE}/task_sequence/{TS_STREAM}_{{ts_method}}_seed{{seed}}.log",
    wildcard_constraints:
        ts_method="|".join(TS["methods"]),
        seed=r"\d+",
    params:
        cfg=TS_JSON,
    threads: CFG["threads"]
    resources:
        mem_mb=4000,
        runtime=180,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} sequence --method {wildcards.ts_method}"
        " --seed {wildcards.seed} --data {input.data} --first {input.first}"
        " --threads {threads} --out $(dirname {output}) > {log} 2>&1"
