# Two-task continual learning (Fig. 2A-C, 2F(i)): base network on MNIST, then Fashion-MNIST
# by every method from that base; each hyperparameter grid is scored on the validation split
# of the first seed, and the chosen value is used for every seed on the test split.

C2 = CFG["continual_2task"]
C2_OUT = f"{RESULTS}/continual_2task"
C2_WORK = f"work/{SCALE}/continual_2task"
C2_DATA = expand(f"resources/{SCALE}/{{dataset}}.pt", dataset=["mnist", "fashion_mnist"])
C2_JSON = method_config(CFG, "continual_2task")  # the network every method starts from
TUNE_SEED = CFG["seeds"][0]


wildcard_constraints:
    method="|".join(C2["methods"]),
    seed=r"\d+",
    param="[a-z_]+",
    value=r"[0-9.e+-]+",


rule c2_base:
    input:
        data=C2_DATA,
    output:
        metrics=f"{C2_OUT}/base/seed{{seed}}/metrics.json",
        model=f"{C2_WORK}/base/seed{{seed}}/model.pt",
        path_integral=f"{C2_WORK}/base/seed{{seed}}/path_integral.pt",  # beside model, where learn reads it
    log:
        f"logs/{SCALE}/continual_2task/base_seed{{seed}}.log",
    params:
        cfg=C2_JSON,
        data=lambda wc, input: os.path.dirname(input.data[0]),
    threads: CFG["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} base --seed {wildcards.seed}"
        " --data {params.data} --threads {threads}"
        " --checkpoint {output.model} --out $(dirname {output.metrics}) > {log} 2>&1"


# tune -> select -> learn, declared once for every continual-learning study: the task
# sequence (rules/task_sequence.smk) uses these rules with its own files and settings.
rule c2_tune:
    input:
        data=C2_DATA,
        start=f"{C2_WORK}/base/seed{TUNE_SEED}/model.pt",
        path_integral=f"{C2_WORK}/base/seed{TUNE_SEED}/path_integral.pt",
    output:
        f"{C2_OUT}/tune/{{method}}/{{param}}-{{value}}/metrics.json",
    log:
        f"logs/{SCALE}/continual_2task/tune_{{method}}_{{param}}-{{value}}.log",
    params:
        study="continual_2task",
        cfg=lambda wc: method_config(CFG, "continual_2task", wc.method),
        data=lambda wc, input: os.path.dirname(input.data[0]),
        seed=TUNE_SEED,
    threads: CFG["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} learn --study {params.study} --method {wildcards.method}"
        " --seed {params.seed} --split val --value {wildcards.value} --data {params.data} --start {input.start}"
        " --threads {threads} --out $(dirname {output}) > {log} 2>&1"


rule c2_select:
    input:
        lambda wc: [f"{C2_OUT}/tune/{wc.method}/{name}-{value}/metrics.json" for name, value in tune_grid(C2, wc.method)],
    output:
        f"{C2_OUT}/tune/{{method}}/chosen.json",
    log:
        f"logs/{SCALE}/continual_2task/select_{{method}}.log",
    params:
        cfg=lambda wc: method_config(CFG, "continual_2task", wc.method),
        score="mean_class_incremental",
    conda:
        "../envs/report.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} select --score {params.score} --out {output} {input}"
        " > {log} 2>&1"


rule c2_learn:
    input:
        data=C2_DATA,
        start=f"{C2_WORK}/base/seed{{seed}}/model.pt",
        path_integral=f"{C2_WORK}/base/seed{{seed}}/path_integral.pt",
        chosen=lambda wc: [f"{C2_OUT}/tune/{wc.method}/chosen.json"] if tune_grid(C2, wc.method) else [],
    output:
        f"{C2_OUT}/{{method}}/seed{{seed}}/metrics.json",
    log:
        f"logs/{SCALE}/continual_2task/{{method}}_seed{{seed}}.log",
    params:
        study="continual_2task",
        cfg=lambda wc: method_config(CFG, "continual_2task", wc.method),
        data=lambda wc, input: os.path.dirname(input.data[0]),
        chosen=lambda wc, input: f"--chosen {input.chosen}" if input.chosen else "",
        checkpoints=f"--checkpoint-dir {C2_WORK}/{{method}}/seed{{seed}}/path",
    threads: CFG["threads"]
    resources:
        mem_mb=4000,
        runtime=180,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} learn --study {params.study} --method {wildcards.method}"
        " --seed {wildcards.seed} --split test {params.chosen} --data {params.data} --start {input.start}"
        " {params.checkpoints} --threads {threads} --out $(dirname {output}) > {log} 2>&1"
