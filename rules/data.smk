# Data preparation: verify the mirror (or download) and write tensors once per scale.


rule prepare_data:
    output:
        f"resources/{SCALE}/{{dataset}}.pt",
    log:
        f"logs/{SCALE}/prepare_{{dataset}}.log",
    params:
        cfg=job_config(CFG),
    wildcard_constraints:
        dataset="mnist|fashion_mnist|cifar10|cifar100",
    resources:
        mem_mb=4000,
        runtime=15,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} prepare --dataset {wildcards.dataset}"
        " --out {output} --raw-root resources/raw > {log} 2>&1"
