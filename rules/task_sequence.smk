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


rule ts_first_task:
    input:
        TS_DATA,
    output:
        metrics=f"{TS_OUT}/first_task/seed{{seed}}/metrics.json",
        model=f"{TS_WORK}/first_task/seed{{seed}}/model.pt",
        path_integral=f"{TS_WORK}/first_task/seed{{seed}}/path_integral.pt",  # beside model, where learn reads it
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


TS_METHOD = "|".join(TS["methods"])


use rule c2_tune as ts_tune with:
    input:
        data=TS_DATA,
        start=f"{TS_WORK}/first_task/seed{TUNE_SEED}/model.pt",
        path_integral=f"{TS_WORK}/first_task/seed{TUNE_SEED}/path_integral.pt",
    output:
        f"{TS_OUT}/tune/{{method}}/{{param}}-{{value}}/metrics.json",
    log:
        f"{TS_LOG}/tune_{{method}}_{{param}}-{{value}}.log",
    params:
        study="task_sequence",
        cfg=lambda wc: method_config(CFG, "task_sequence", wc.method),
        data=lambda wc, input: input.data,
        seed=TUNE_SEED,
    wildcard_constraints:
        method=TS_METHOD,
    resources:
        mem_mb=4000,
        runtime=180,
        gpu=GPU,


use rule c2_select as ts_select with:
    input:
        lambda wc: [f"{TS_OUT}/tune/{wc.method}/{name}-{value}/metrics.json" for name, value in tune_grid(TS, wc.method)],
    output:
        f"{TS_OUT}/tune/{{method}}/chosen.json",
    log:
        f"{TS_LOG}/select_{{method}}.log",
    params:
        cfg=lambda wc: method_config(CFG, "task_sequence", wc.method),
        score="mean_task_incremental",
    wildcard_constraints:
        method=TS_METHOD,


use rule c2_learn as ts_learn with:
    input:
        data=TS_DATA,
        start=f"{TS_WORK}/first_task/seed{{seed}}/model.pt",
        path_integral=f"{TS_WORK}/first_task/seed{{seed}}/path_integral.pt",
        chosen=lambda wc: [f"{TS_OUT}/tune/{wc.method}/chosen.json"] if tune_grid(TS, wc.method) else [],
    output:
        f"{TS_OUT}/{{method}}/seed{{seed}}/metrics.json",
    log:
        f"{TS_LOG}/{{method}}_seed{{seed}}.log",
    params:
        study="task_sequence",
        cfg=lambda wc: method_config(CFG, "task_sequence", wc.method),
        data=lambda wc, input: input.data,
        chosen=lambda wc, input: f"--chosen {input.chosen}" if input.chosen else "",
        checkpoints="",
    wildcard_constraints:
        method=TS_METHOD,
