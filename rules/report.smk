# Aggregation (tables, figures) and the claims check of one scale.


rule aggregate:
    input:
        expand(f"{C2_OUT}/{{method}}/seed{{seed}}/metrics.json", method=C2["methods"], seed=CFG["seeds"]),
        expand(f"{C2_OUT}/base/seed{{seed}}/metrics.json", seed=CFG["seeds"]),
        [f"{C2_OUT}/tune/{method}/chosen.json" for method in C2["methods"] if tune_grid(C2, method)],
    output:
        summary=f"{C2_OUT}/summary.md",
        finals=f"{C2_OUT}/finals.csv",
        curves=report(
            f"{C2_OUT}/fig2c_curves.png",
            caption="../report/fig2c.rst",
            category="Two-task continual learning",
        ),
        curves_data=f"{C2_OUT}/fig2c_curves.csv",
        bars=report(
            f"{C2_OUT}/fig2f_final.png",
            caption="../report/fig2f.rst",
            category="Two-task continual learning",
        ),
        bars_data=f"{C2_OUT}/fig2f_final.csv",
    log:
        f"logs/{SCALE}/aggregate.log",
    params:
        cfg=CFG_JSON,
        scale=SCALE,
    conda:
        "../envs/report.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} aggregate --scale {params.scale} > {log} 2>&1"


rule check:
    input:
        rules.aggregate.output,
        "config/claims.yaml",
    output:
        report(f"{RESULTS}/claims.md", caption="../report/claims.rst", category="Claims"),
    log:
        f"logs/{SCALE}/check.log",
    params:
        cfg=CFG_JSON,
        scale=SCALE,
    conda:
        "../envs/report.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} check --scale {params.scale} > {log} 2>&1"
        " || (cat {log}; exit 1)"
