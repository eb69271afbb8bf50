# Task sequences (Fig. 2D-F(ii)): the network learns task 1 of the configured stream, then
# every later task with each method, one job per method x seed; each hyperparameter grid is
# scored on the validation split of the first seed, and the chosen value is used for every
# seed on the test split.

TS = CFG["task_sequence"]
TS_STREAM = TS["stream"]
TS_OUT = f"{RESULTS}/task_sequence/{TS_STREAM}"
TS_WORK = f"work/{SCALE}/task_sequence/{TS_STREAM}"
TS_DATA = f"resources/{SCALE}/{TS[TS_STREAM]['dataset']}.pt"
TS_JSON = method_config(CFG, "task_sequence")  # the network every method starts from
TS_LOG = f"logs/{SCALE}/task_sequence/{TS_STREAM}"


wildcard_constraints:
    ts_method="|".join(TS["methods"]),


rule ts_first_task:
    input:
        TS_DATA,
    output:
        metrics=f"{TS_OUT}/first_task/seed{{seed}}/metrics.json",
        model=f"{TS_WORK}/first_task/seed{{seed}}/model.pt",
    log:
        f"{TS_LOG}/first_task_seed{{seed}}.log",
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


rule ts_tune:
    input:
        data=TS_DATA,
        first=f"{TS_WORK}/first_task/seed{TUNE_SEED}/model.pt",
    output:
        f"{TS_OUT}/tune/{{ts_method}}/{{param}}-{{value}}/metrics.json",
    log:
        f"{TS_LOG}/tune_{{ts_method}}_{{param}}-{{value}}.log",
    params:
        cfg=lambda wc: method_config(CFG, "task_sequence", wc.ts_method),
        seed=TUNE_SEED,
    threads: CFG["threads"]
    resources:
        mem_mb=4000,
        runtime=180,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} sequence --method {wildcards.ts_method}"
        " --seed {params.seed} --split val --value {wildcards.value} --data {input.data} --first {input.first}"
        " --threads {threads} --out $(dirname {output}) > {log} 2>&1"


rule ts_select:
    input:
        lambda wc: [f"{TS_OUT}/tune/{wc.ts_method}/{name}-{value}/metrics.json"
                    for name, value in tune_grid(TS, wc.ts_method)],
    output:
        f"{TS_OUT}/tune/{{ts_method}}/chosen.json",
    log:
        f"{TS_LOG}/select_{{ts_method}}.log",
    params:
        cfg=lambda wc: method_config(CFG, "task_sequence", wc.ts_method),
    conda:
        "../envs/report.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} select --score mean_task_incremental --out {output} {input}"
        " > {log} 2>&1"


rule ts_learn:
    input:
        data=TS_DATA,
        first=f"{TS_WORK}/first_task/seed{{seed}}/model.pt",
        chosen=lambda wc: [f"{TS_OUT}/tune/{wc.ts_method}/chosen.json"] if tune_grid(TS, wc.ts_method) else [],
    output:
        f"{TS_OUT}/{{ts_method}}/seed{{seed}}/metrics.json",
    log:
        f"{TS_LOG}/{{ts_method}}_seed{{seed}}.log",
    params:
        cfg=lambda wc: method_config(CFG, "task_sequence", wc.ts_method),
        chosen=lambda wc, input: f"--chosen {input.chosen}" if input.chosen else "",
    threads: CFG["threads"]
    resources:
        mem_mb=4000,
        runtime=180,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} sequence --method {wildcards.ts_method}"
        " --seed {wildcards.seed} --split test {params.chosen} --data {input.data} --first {input.first}"
        " --threads {threads} --out $(dirname {output}) > {log} 2>&1"
