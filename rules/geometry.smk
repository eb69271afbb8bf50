# Weight-space geometry: the spectrum of the metric g of Eq. 2 of each network in each state
# (init, trained, after a FIP walk), one job per network x state x seed. The trained networks
# come from the two-task study (cnn5: its base network) and the sparsity study (its dense ones).

GM = CFG["geometry"]
GM_OUT = f"{RESULTS}/geometry"
GM_TRAINED = {
    "cnn5": f"{C2_WORK}/base/seed{{seed}}/model.pt",
    "lenet300_100": f"{SP_WORK}/lenet300_100/dense/seed{{seed}}/model.pt",
    "resnet20": f"{SP_WORK}/resnet20/dense/seed{{seed}}/model.pt",
}
GM_DATASET = {"cnn5": "mnist", "lenet300_100": SP["lenet300_100"]["dataset"], "resnet20": SP["resnet20"]["dataset"]}


rule gm_spectrum:
    input:
        data=lambda wc: f"resources/{SCALE}/{GM_DATASET[wc.network]}.pt",
        trained=lambda wc: [] if wc.state == "init" else [GM_TRAINED[wc.network].format(seed=wc.seed)],
    output:
        f"{GM_OUT}/{{network}}/{{state}}/seed{{seed}}/metrics.json",
    log:
        f"logs/{SCALE}/geometry/{{network}}_{{state}}_seed{{seed}}.log",
    wildcard_constraints:
        network="|".join(GM["networks"]),
        state="|".join(GM["states"]),
        seed=r"\d+",
    params:
        cfg=job_config(CFG, "geometry"),
        trained=lambda wc, input: f"--trained {input.trained}" if input.trained else "",
    threads: CFG["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} spectrum --network {wildcards.network}"
        " --state {wildcards.state} --seed {wildcards.seed} --data {input.data} {params.trained}"
        " --threads {threads} --out $(dirname {output}) > {log} 2>&1"
