# Adversarial robustness (Fig. 4): trained networks (the pool, seeds 0..pool-1, and the
# surrogate), one rule per ensemble method building one trial's members, the attack's
# strength calibrated on pool network 0, the transfer set crafted on the surrogate, and one
# attack-and-analysis job per method x trial.
from baselines.deepnet import members_of_trial  # noqa: E402

RB = CFG["robustness"]
RB_OUT = f"{RESULTS}/robustness"
RB_WORK = f"work/{SCALE}/robustness"
RB_DATA = f"resources/{SCALE}/{RB['dataset']}.pt"
RB_TRANSFER = f"{RB_WORK}/transfer/transfer.pt"


wildcard_constraints:
    trial=r"\d+",


RB_MODEL = f"{RB_WORK}/network/seed{{seed}}/model.pt"
rule rb_network_part:  # a part of a training the recipe splits into jobs (train.part_epochs), all but the last
    input:
        data=RB_DATA,
        previous=rb_previous_part,
    output:
        f"{RB_WORK}/network/seed{{seed}}/part{{part}}.pt",
    log:
        f"logs/{SCALE}/robustness/network_seed{{seed}}_part{{part}}.log",
    wildcard_constraints:
        seed=r"\d+",
        part=r"\d+",
    params:
        cfg=robustness_config(CFG, "network"),
    threads: CFG["threads"]
    resources:
        mem_mb=6000,
        runtime=240,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} network --seed {wildcards.seed} --part {wildcards.part}"
        " --data-dir $(dirname {input.data}) --work $(dirname {output}) --out /dev/null --threads {threads} > {log} 2>&1"


rule rb_network:
    input:
        data=RB_DATA,
        previous=lambda wc: rb_previous_part(wc, last=True),
    output:
        metrics=f"{RB_OUT}/network/seed{{seed}}/metrics.json",
        model=RB_MODEL,
    log:
        f"logs/{SCALE}/robustness/network_seed{{seed}}.log",
    wildcard_constraints:
        seed=r"\d+",
    params:
        cfg=robustness_config(CFG, "network"),
    threads: CFG["threads"]
    resources:
        mem_mb=6000,
        runtime=240,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} network --seed {wildcards.seed} --data-dir $(dirname {input.data})"
        " --work $(dirname {output.model}) --out $(dirname {output.metrics}) --threads {threads} > {log} 2>&1"


RB_RUNTIME = {"fip": 120, "fge": 240, "deepnet": 60, "adp": 600}  # minutes per trial (SLURM's limit)


rule rb_reach_part:  # a part of FIP's reach walk (fip.reach.cycles_per_part), all but the last
    input:
        data=RB_DATA,
        start=lambda wc: RB_MODEL.format(seed=int(wc.trial) % RB["pool"]),
        transfer=RB_TRANSFER,
        previous=rb_reach_previous,
    output:
        f"{RB_WORK}/fip/seed{{trial}}/reach_part{{part}}.json",
    log:
        f"logs/{SCALE}/robustness/fip_seed{{trial}}_part{{part}}.log",
    wildcard_constraints:
        trial=r"\d+",
        part=r"\d+",
    params:
        cfg=robustness_config(CFG, "build", "fip"),
        networks=f"{RB_WORK}/network",
    threads: CFG["threads"]
    resources:
        mem_mb=6000,
        runtime=RB_RUNTIME["fip"],
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} ensemble --method fip --trial {wildcards.trial}"
        " --part {wildcards.part} --data-dir $(dirname {input.data}) --networks {params.networks}"
        " --work $(dirname {output}) --out /dev/null --threads {threads} --transfer {input.transfer} > {log} 2>&1"


rule rb_ensemble:  # the members of one trial of one ensemble method
    input:
        data=RB_DATA,
        starts=rb_starts,
        transfer=lambda wc: RB_TRANSFER if wc.ensemble == "fip" else [],  # FIP's reach is scored on it
        previous=lambda wc: rb_reach_previous(wc, last=True),
    output:
        metrics=f"{RB_OUT}/build/{{ensemble}}/seed{{trial}}/metrics.json",
        members=f"{RB_WORK}/{{ensemble}}/seed{{trial}}/members.pt",
    log:
        f"logs/{SCALE}/robustness/{{ensemble}}_seed{{trial}}.log",
    wildcard_constraints:
        ensemble="|".join(RB["methods"]),
        trial=r"\d+",
    params:
        cfg=lambda wc: robustness_config(CFG, "build", wc.ensemble),
        networks=f"{RB_WORK}/network",
        transfer=lambda wc, input: f"--transfer {input.transfer}" if input.transfer else "",
    threads: CFG["threads"]
    resources:
        mem_mb=lambda wc: 8000 if wc.ensemble == "adp" else 6000,
        runtime=lambda wc: RB_RUNTIME[wc.ensemble],
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} ensemble --method {wildcards.ensemble} --trial {wildcards.trial}"
        " --data-dir $(dirname {input.data}) --networks {params.networks} --work $(dirname {output.members})"
        " --out $(dirname {output.metrics}) --threads {threads} {params.transfer} > {log} 2>&1"


rule rb_calibrate:  # the transfer attack's strength at which pool network 0 falls to the paper's accuracy
    input:
        data=RB_DATA,
        surrogate=RB_MODEL.format(seed=RB["surrogate_seed"]),
        single=RB_MODEL.format(seed=0),
    output:
        f"{RB_OUT}/calibration/seed0/metrics.json",
    log:
        f"logs/{SCALE}/robustness/calibration.log",
    params:
        cfg=robustness_config(CFG, "calibration"),
    threads: CFG["threads"]
    resources:
        mem_mb=6000,
        runtime=60,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} calibrate --data-dir $(dirname {input.data})"
        " --surrogate {input.surrogate} --single {input.single} --out $(dirname {output}) --threads {threads} > {log} 2>&1"


rule rb_transfer:
    input:
        data=RB_DATA,
        surrogate=RB_MODEL.format(seed=RB["surrogate_seed"]),
        calibration=rules.rb_calibrate.output[0],
    output:
        metrics=f"{RB_OUT}/transfer/seed{RB['surrogate_seed']}/metrics.json",
        images=RB_TRANSFER,
    log:
        f"logs/{SCALE}/robustness/transfer.log",
    params:
        cfg=robustness_config(CFG, "transfer"),
    threads: CFG["threads"]
    resources:
        mem_mb=6000,
        runtime=60,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} transfer --data-dir $(dirname {input.data})"
        " --surrogate {input.surrogate} --calibration {input.calibration} --work $(dirname {output.images})"
        " --out $(dirname {output.metrics})"
        " --threads {threads} > {log} 2>&1"


rule rb_attack:
    input:
        data=RB_DATA,
        members=f"{RB_WORK}/{{method}}/seed{{trial}}/members.pt",
        surrogate=RB_MODEL.format(seed=RB["surrogate_seed"]),
        transfer=rules.rb_transfer.output.images,
    output:
        f"{RB_OUT}/{{method}}/seed{{trial}}/metrics.json",
    log:
        f"logs/{SCALE}/robustness/attack_{{method}}_seed{{trial}}.log",
    wildcard_constraints:
        method="|".join(RB["methods"]),
        trial=r"\d+",
    params:
        cfg=robustness_config(CFG, "attack"),
    threads: CFG["threads"]
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=GPU,
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} attack --method {wildcards.method} --trial {wildcards.trial}"
        " --data-dir $(dirname {input.data}) --members {input.members} --surrogate {input.surrogate}"
        " --transfer {input.transfer} --out $(dirname {output}) --threads {threads} > {log} 2>&1"
