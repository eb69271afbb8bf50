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
        solvers=report(
            f"{C2_OUT}/fig_solvers.png",
            caption="../report/fig_solvers.rst",
            category="Two-task continual learning",
        ),
        solvers_data=f"{C2_OUT}/fig_solvers.csv",
    log:
        f"logs/{SCALE}/aggregate.log",
    params:
        cfg=CFG_JSON,
        scale=SCALE,
    conda:
        "../envs/report.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} aggregate --study continual_2task --scale {params.scale} > {log} 2>&1"


rule aggregate_task_sequence:
    input:
        expand(f"{TS_OUT}/{{method}}/seed{{seed}}/metrics.json", method=[*TS["methods"], "first_task"], seed=CFG["seeds"]),
        [f"{TS_OUT}/tune/{method}/chosen.json" for method in TS["methods"] if tune_grid(TS, method)],
    output:
        summary=f"{TS_OUT}/summary.md",
        finals=f"{TS_OUT}/finals.csv",
        figures=[report(f"{TS_OUT}/{name}.png", caption=f"../report/{name}.rst", category="Task sequence")
                 for name in ("fig2e_accuracy", "fig2e_heatmap", "fig2f_sequence")],
        figure_data=f"{TS_OUT}/fig2e_accuracy.csv",
    log:
        f"logs/{SCALE}/aggregate_task_sequence.log",
    params:
        cfg=CFG_JSON,
        scale=SCALE,
    conda:
        "../envs/report.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} aggregate --study task_sequence --scale {params.scale} > {log} 2>&1"


rule aggregate_sparsity:
    input:
        [f"{SP_OUT}/{network}/{method}/seed{seed}/metrics.json"
         for network in SP["networks"] for method in [*SP["methods"], "dense"]
         for seed in sparsity_seeds(CFG, network)],
    output:
        levels=f"{SP_OUT}/levels.csv",
        summary=f"{SP_OUT}/summary.md",
        accuracy=report(
            f"{SP_OUT}/fig3b_accuracy.png",
            caption="../report/fig3b.rst",
            category="Sparsification",
        ),
        accuracy_data=f"{SP_OUT}/fig3b_accuracy.csv",
        layers=[report(f"{SP_OUT}/layers_{network}.png", caption="../report/sparsity_layers.rst",
                       category="Sparsification") for network in SP["networks"]],
        pca=[report(f"{SP_OUT}/pca_{network}.png", caption="../report/sparsity_pca.rst",
                    category="Sparsification") for network in SP["networks"]],
        connectivity=[report(f"{SP_OUT}/connectivity_{network}.png", caption="../report/sparsity_connectivity.rst",
                             category="Sparsification") for network in SP["networks"]],
        figure_data=expand(f"{SP_OUT}/{{figure}}_{{network}}.csv", figure=["layers", "pca", "connectivity"],
                           network=SP["networks"]),
    log:
        f"logs/{SCALE}/aggregate_sparsity.log",
    params:
        cfg=CFG_JSON,
        scale=SCALE,
    conda:
        "../envs/report.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} aggregate --study sparsity --scale {params.scale} > {log} 2>&1"


rule aggregate_robustness:
    input:
        [f"{RB_OUT}/{method}/seed{trial}/metrics.json" for method in RB["methods"] for trial in range(RB["trials"][method])],
        [f"{RB_OUT}/build/{method}/seed{trial}/metrics.json" for method in RB["methods"]
         for trial in range(RB["trials"][method])],
        expand(f"{RB_OUT}/network/seed{{seed}}/metrics.json", seed=[*range(RB["pool"]), RB["surrogate_seed"]]),
    output:
        accuracy=f"{RB_OUT}/accuracy.csv",
        summary=f"{RB_OUT}/summary.md",
        figures=[report(f"{RB_OUT}/{name}.png", caption=f"../report/{name}.rst", category="Adversarial robustness")
                 for name in ("fig4c_members", "fig4c_heatmaps", "fig4c_pca", "fig4d_attacks", "fig4e_coherence",
                              "fig4f_diversity", *(["fig4_reach"] if "fip" in RB["methods"] else []))],
        figure_data=expand(f"{RB_OUT}/{{name}}.csv", name=["fig4c_members", "fig4e_coherence", "fig4f_diversity",
                                                            *(["fig4_reach"] if "fip" in RB["methods"] else [])]),
    log:
        f"logs/{SCALE}/aggregate_robustness.log",
    params:
        cfg=CFG_JSON,
        scale=SCALE,
    conda:
        "../envs/report.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} aggregate --study robustness --scale {params.scale} > {log} 2>&1"


rule aggregate_geometry:
    input:
        [f"{GM_OUT}/{network}/{state}/seed{seed}/metrics.json"
         for network in GM["networks"] for state in GM["states"] for seed in GM["seeds"]],
    output:
        summary=f"{GM_OUT}/summary.md",
        table=f"{GM_OUT}/spectra.csv",
        spectra=report(f"{GM_OUT}/fig_spectra.png", caption="../report/fig_spectra.rst", category="Geometry"),
        figure_data=expand(f"{GM_OUT}/fig_spectra_{{part}}.csv", part=["top", "density"]),
    log:
        f"logs/{SCALE}/aggregate_geometry.log",
    params:
        cfg=CFG_JSON,
        scale=SCALE,
    conda:
        "../envs/report.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} aggregate --study geometry --scale {params.scale} > {log} 2>&1"


rule aggregate_bert:
    input:
        [f"{BT_OUT}/{name}/seed{BT['seed']}/metrics.json" for name in [*BT_PATHS, "oneshot", "query"]],
    output:
        summary=f"{BT_OUT}/summary.md",
        nodes=f"{BT_OUT}/nodes.csv",
        figures=[report(f"{BT_OUT}/{name}.png", caption=f"../report/{name}.rst", category="BERT")
                 for name in ("fig5a_sparsity", "fig5b_continual", "fig5cd_orders", "fig5e_graph", "fig5e_scatter")],
        figure_data=expand(f"{BT_OUT}/{{name}}.csv", name=["fig5a_sparsity", "fig5b_continual", "fig5cd_orders",
                                                           "fig5e_nodes"]),
    log:
        f"logs/{SCALE}/aggregate_bert.log",
    params:
        cfg=CFG_JSON,
        scale=SCALE,
    conda:
        "../envs/report.yaml"
    shell:
        "python -m fipbench.cli --config {params.cfg:q} aggregate --study bert --scale {params.scale} > {log} 2>&1"


rule check:
    input:
        rules.aggregate.output,
        rules.aggregate_task_sequence.output,
        rules.aggregate_sparsity.output,
        rules.aggregate_robustness.output,
        rules.aggregate_geometry.output,
        rules.aggregate_bert.output,
        "config/claims.yaml",
    output:
        report(f"{RESULTS}/claims.md", caption="../report/claims.rst", category="Claims"),
        report(f"{RESULTS}/claims_overview.png", caption="../report/claims_overview.rst", category="Claims"),
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
