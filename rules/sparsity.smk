# Sparsification (Fig. 3): one dense network per network x seed, then every method makes
# that network sparse at every target sparsity (one job per network x method x seed).

SP = CFG["sparsity"]
SP_OUT = f"{RESULTS}/sparsity"
SP_WORK = f"work/{SCALE}/sparsity"


rule sp_dense_part:  # a part of a dense training the recipe splits into jobs (train.part_epochs), all but the last
    input:
        data=lambda wc: f"resources/{SCALE}/{SP[wc.network]['dataset']}.pt",
        previous=sp_previous_part,
    output:
        f"{SP_WORK}/{{network}}/dense/seed{{seed}}/part{{part}}.pt",
    log:
        f"logs/{SCALE}/sparsity/{{network}}_dense_seed{{seed}}_part{{part}}.log",
    wildcard_constraints:
        network="|".join(SP["networks"]),
        seed=r"\d+",
        part=r"\d+",
    params:
        cfg=lambda wc: network_config(CFG, wc.network, dense=True),
        data_dir=lambda wc, input: os.path.dirname(input.data),
    threads: CFG["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} dense --network {wildcards.network} --part {wildcards.part}"
        " --seed {wildcards.seed} --data-dir {params.data_dir} --threads {threads}"
        " --work $(dirname {output}) --out /dev/null > {log} 2>&1"


rule sp_dense:
    input:
        data=lambda wc: f"resources/{SCALE}/{SP[wc.network]['dataset']}.pt",
        previous=lambda wc: sp_previous_part(wc, last=True),
    output:
        metrics=f"{SP_OUT}/{{network}}/dense/seed{{seed}}/metrics.json",
        model=f"{SP_WORK}/{{network}}/dense/seed{{seed}}/model.pt",
        rewind=f"{SP_WORK}/{{network}}/dense/seed{{seed}}/rewind.pt",
    log:
        f"logs/{SCALE}/sparsity/{{network}}_dense_seed{{seed}}.log",
    wildcard_constraints:
        network="|".join(SP["networks"]),
        seed=r"\d+",
    params:
        cfg=lambda wc: network_config(CFG, wc.network, dense=True),
        data_dir=lambda wc, input: os.path.dirname(input.data),
    threads: CFG["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} dense --network {wildcards.network}"
        " --seed {wildcards.seed} --data-dir {params.data_dir} --threads {threads}"
        " --work $(dirname {output.model}) --out $(dirname {output.metrics}) > {log} 2>&1"


rule sp_lth_part:  # a part of LTH's levels (lth.levels_per_part), all but the last
    input:
        data=lambda wc: f"resources/{SCALE}/{SP[wc.network]['dataset']}.pt",
        model=f"{SP_WORK}/{{network}}/dense/seed{{seed}}/model.pt",
        rewind=f"{SP_WORK}/{{network}}/dense/seed{{seed}}/rewind.pt",
        previous=sp_lth_previous,
    output:
        f"{SP_WORK}/{{network}}/lth/seed{{seed}}/part{{part}}.pt",
    log:
        f"logs/{SCALE}/sparsity/{{network}}_lth_seed{{seed}}_part{{part}}.log",
    wildcard_constraints:
        network="|".join(SP["networks"]),
        seed=r"\d+",
        part=r"\d+",
    params:
        cfg=lambda wc: network_config(CFG, wc.network),
        data_dir=lambda wc, input: os.path.dirname(input.data),
        parts=sp_lth_parts,
    threads: CFG["threads"]
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} sparsify --network {wildcards.network} --method lth"
        " --part {wildcards.part} --seed {wildcards.seed} --data-dir {params.data_dir} --base $(dirname {input.model})"
        " {params.parts} --threads {threads} --out /dev/null > {log} 2>&1"


rule sp_sparsify:
    input:
        data=lambda wc: f"resources/{SCALE}/{SP[wc.network]['dataset']}.pt",
        model=f"{SP_WORK}/{{network}}/dense/seed{{seed}}/model.pt",
        rewind=f"{SP_WORK}/{{network}}/dense/seed{{seed}}/rewind.pt",
        previous=lambda wc: sp_lth_previous(wc, last=True),
    output:
        f"{SP_OUT}/{{network}}/{{method}}/seed{{seed}}/metrics.json",
    log:
        f"logs/{SCALE}/sparsity/{{network}}_{{method}}_seed{{seed}}.log",
    wildcard_constraints:
        network="|".join(SP["networks"]),
        method="|".join(SP["methods"]),
        seed=r"\d+",
    params:
        cfg=lambda wc: network_config(CFG, wc.network),
        data_dir=lambda wc, input: os.path.dirname(input.data),
        parts=lambda wc: sp_lth_parts(wc) if wc.method == "lth" else "",
    threads: CFG["threads"]
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} sparsify --network {wildcards.network}"
        " --method {wildcards.method} --seed {wildcards.seed} --data-dir {params.data_dir}"
        " --base $(dirname {input.model}) {params.parts} --threads {threads} --out $(dirname {output}) > {log} 2>&1"
