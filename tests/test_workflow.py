"""The Snakemake workflow, run for real: lint, dry runs, config errors before any job, the
whole smoke DAG in a temporary copy of the repository, its claims check, determinism of a
job, and faults (a job killed mid-way, a NaN loss) that stop a job without metrics."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO

RUN_FOLDERS = {"results", "work", "resources", "logs", ".snakemake", ".venv", ".pytest_cache"}  # at the top only
CACHES = shutil.ignore_patterns("__pycache__", "*.egg-info")


def IGNORED(folder, names):
    """What a copy of the repository leaves out: the run's folders at its top (so that
    benchmarks/results/, which is committed, is copied and the copy is a clean checkout)
    and caches anywhere."""
    top = {name for name in names if name in RUN_FOLDERS} if Path(folder).resolve() == REPO.resolve() else set()
    return top | CACHES(folder, names)


def snakemake(*args, cwd=REPO, check=True):
    result = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "fipbench.cli", *args], cwd=cwd, capture_output=True, text=True)


def test_lint_passes():
    snakemake("--lint")


@pytest.mark.parametrize("scale", ["smoke", "laptop", "paper"])
def test_dry_run_of_every_scale(scale):
    out = snakemake("-n", "--config", f"scale={scale}").stdout
    assert "c2_learn" in out and "check" in out


def test_the_cifar100_sequence_plans_at_laptop_and_paper_scale():
    """The 20-task CIFAR-100 stream cannot run here (no CIFAR-100 offline) but is planned."""
    for scale in ("laptop", "paper"):
        out = snakemake("-n", "--config", f"scale={scale}", "task_sequence={stream: split_cifar100}").stdout
        assert f"resources/{scale}/cifar100.pt" in out
        assert "task_sequence/split_cifar100/fip/seed0/metrics.json" in out and "ts_first_task" in out


def test_unknown_config_key_stops_before_any_job():
    result = snakemake("-n", "--config", "scale=smoke", "sedds=[1]", check=False)
    assert result.returncode != 0
    assert "unknown config key sedds" in result.stdout + result.stderr
    assert "c2_base" not in result.stdout


@pytest.mark.parametrize("override, planned", [
    ("seeds=[0,1]", ['"seeds": [0, 1]']),
    ("continual_2task={fip: {beta: 0.5}}", ['"beta": 0.5,']),
    ("continual_2task={new_task: {lr: 2e-3, epochs: 3}}", ['"lr": 0.002', '"epochs": 3']),
    ("continual_2task={tune: {ewc: {lambda: [10, 1e5]}}}", ["lambda-100000.0"]),
])
def test_readme_overrides_of_lists_and_nested_numbers_work(override, planned):
    """--config hands nested values over as strings; they reach the jobs as numbers."""
    out = snakemake("-n", "-p", "--config", "scale=smoke", override).stdout
    assert all(text in out for text in planned), override


def test_wrongly_typed_config_value_names_the_key():
    result = snakemake("-n", "--config", "scale=smoke", "threads=two", check=False)
    assert result.returncode != 0
    assert "config key threads" in result.stdout + result.stderr


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """A copy of the repository in which the whole smoke DAG has run; made at
    $FIPBENCH_SMOKE_COPY when that is set (CI's report check then reuses the run)."""
    keep = os.environ.get("FIPBENCH_SMOKE_COPY")
    root = Path(keep) if keep else tmp_path_factory.mktemp("smoke") / "fipbench"
    if keep:
        shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(REPO, root, ignore=IGNORED)
    snakemake("--cores", "2", "--config", "scale=smoke", cwd=root)
    return root


def test_smoke_dag_writes_the_results_contract(smoke_run):
    results = smoke_run / "results" / "smoke" / "continual_2task"
    for method in ("fip", "naive", "ewc", "gem", "replay", "base"):
        folder = results / method / "seed0"
        metrics = json.loads((folder / "metrics.json").read_text())
        provenance = json.loads((folder / "provenance.json").read_text())
        assert provenance["scale"] == "smoke" and provenance["seed"] == 0
        assert provenance["optimizer_steps"] > 0
        assert provenance["data"]["mnist"]["kind"] == "mirror"
        assert len(provenance["config_hash"]) == 16
        if method != "base":
            assert metrics["curve"][0]["step"] == 0 and metrics["curve"][-1]["step"] == provenance["optimizer_steps"]
    chosen = json.loads((results / "tune" / "ewc" / "chosen.json").read_text())
    assert chosen["value"] in [row["value"] for row in chosen["grid"]]
    ewc = json.loads((results / "ewc" / "seed0" / "metrics.json").read_text())
    assert ewc["settings"]["lambda"] == chosen["value"]
    for name in ("summary.md", "finals.csv", "fig2c_curves.png", "fig2c_curves.csv", "fig2f_final.png"):
        assert (results / name).stat().st_size > 0
    assert "| c2-fip-keeps-mnist |" in (smoke_run / "results" / "smoke" / "claims.md").read_text()
    assert not list((smoke_run / "results").rglob("*.tmp"))


def test_smoke_dag_writes_the_sparsity_study(smoke_run):
    results = smoke_run / "results" / "smoke" / "sparsity"
    for method in ("fip", "lth", "oneshot", "random"):
        folder = results / "lenet300_100" / method / "seed0"
        metrics = json.loads((folder / "metrics.json").read_text())
        assert json.loads((folder / "provenance.json").read_text())["scale"] == "smoke"
        assert metrics["targets"] == [50, 90, 99.1]
        for key, level in metrics["levels"].items():
            assert level["sparsity"] == pytest.approx(float(key.replace("_", ".")), abs=1e-3)
            assert set(level["per_layer"]) == {"layer1", "layer2", "layer3"}
    fip = json.loads((results / "lenet300_100" / "fip" / "seed0" / "metrics.json").read_text())
    assert fip["levels"]["99_1"]["distance_to_sparse_before_projection"] < 0.05
    assert [p["kind"] for p in fip["pca"]["points"]].count("random") == 3
    lth = json.loads((results / "lenet300_100" / "lth" / "seed0" / "metrics.json").read_text())
    assert lth["levels"]["99_1"]["steps"] == lth["levels_run"] * lth["steps_per_level"]
    resnet = json.loads((results / "resnet20" / "lth" / "seed0" / "metrics.json").read_text())
    assert resnet["targets"] == [50, 93] and len(resnet["layers"]) == 22
    assert resnet["levels"]["93"]["sparsity"] == pytest.approx(93, abs=1e-3)
    assert lth["levels"]["99_1"]["connectivity"]["live_units"]["hidden1"] <= 300
    assert len(resnet["levels"]["93"]["connectivity"]["input_fan_out"]) == 3  # RGB channels of the first conv
    names = ["levels.csv", "summary.md", "fig3b_accuracy.png"] + [
        f"{figure}_{network}.{ext}" for figure in ("layers", "pca", "connectivity")
        for network in ("lenet300_100", "resnet20") for ext in ("png", "csv")]
    for name in names:
        assert (results / name).stat().st_size > 0


def test_smoke_dag_writes_the_robustness_study(smoke_run):
    results = smoke_run / "results" / "smoke" / "robustness"
    calibration = json.loads((results / "calibration" / "seed0" / "metrics.json").read_text())
    assert [point["epsilon"] for point in calibration["sweep"]] == [1, 4, 16]
    calibrated = {"calibrated"} if calibration["epsilon"] is not None else set()
    for method in ("fip", "deepnet", "fge", "adp"):
        metrics = json.loads((results / method / "seed0" / "metrics.json").read_text())
        built = json.loads((results / "build" / method / "seed0" / "metrics.json").read_text())
        assert len(metrics["clean"]["members"]) == built["members"] == 3
        assert set(metrics["white_box"]) == {"eps2", "eps8"}
        assert set(metrics["transfer"]) == {"eps2", "eps8"} | calibrated
        for key, epsilon in (("eps2", 2 / 255), ("eps8", 8 / 255)):
            assert metrics["white_box"][key]["max_perturbation"] <= epsilon + 1e-6
        assert len(metrics["diversity"]["per_layer"]) == 14 and len(metrics["coherence"]["values"][0]) == 50
        assert len(metrics["heatmap"]["true_label_probability"]) == 3
    transfer = json.loads((results / "transfer" / "seed1000" / "metrics.json").read_text())
    assert transfer["eps8"]["max_perturbation"] <= 8 / 255 + 1e-6
    if calibrated:
        assert 1 <= calibration["epsilon"] <= 16
        assert transfer["calibrated"]["max_perturbation"] <= calibration["epsilon"] / 255 + 1e-6
    fip = json.loads((results / "build" / "fip" / "seed0" / "metrics.json").read_text())
    reach = fip["reach"]  # smoke: 3 members, scored every cycle, at most 4 cycles
    assert fip["base_seed"] == 0 and len(reach["points"]) == len(fip["cycles"]) + 1 in (4, 5)
    assert reach["member_cycles"][-1] == reach["points"][-1]["cycle"]
    for name in ("summary.md", "accuracy.csv", "fig4c_members.png", "fig4c_heatmaps.png", "fig4c_pca.png",
                 "fig4d_attacks.png", "fig4e_coherence.png", "fig4f_diversity.png", "fig4f_diversity.csv",
                 "fig4_reach.png", "fig4_reach.csv"):
        assert (results / name).stat().st_size > 0


def test_smoke_dag_writes_the_geometry_study(smoke_run):
    results = smoke_run / "results" / "smoke" / "geometry"
    for network in ("cnn5", "lenet300_100", "resnet20"):
        for state in ("init", "trained", "fip"):
            metrics = json.loads((results / network / state / "seed0" / "metrics.json").read_text())
            top = metrics["top_eigenvalues"]
            assert len(top) == 5 and top == sorted(top, reverse=True) and top[0] > 0
            assert metrics["rank_bound"] <= metrics["probes"] * (metrics["classes"] - 1)
            for estimate in metrics["fraction_below"].values():
                assert 0 <= estimate["mean"] <= 1 and estimate["standard_error"] >= 0
            assert 1 <= metrics["effective_rank"] <= metrics["rank_bound"]
            assert len(metrics["quadrature"]) == 3
            assert ("weight_distance" in metrics["walk"]) == (state == "fip")
            assert metrics["walk"].get("weight_distance", 1) > 0
    for name in ("summary.md", "spectra.csv", "fig_spectra.png", "fig_spectra_top.csv", "fig_spectra_density.csv"):
        assert (results / name).stat().st_size > 0


def test_smoke_dag_writes_the_solver_comparison(smoke_run):
    results = smoke_run / "results" / "smoke" / "continual_2task"
    walks = {method: json.loads((results / method / "seed0" / "metrics.json").read_text())["walk"]
             for method in ("fip_normalised", "fip_exact", "fip_smooth", "ogd")}
    for method in ("fip_exact", "fip_smooth"):  # every step has length epsilon
        assert walks[method]["path_length"] == pytest.approx(walks["fip_normalised"]["path_length"], rel=1e-4)
    assert all(walk["memory_distance"] >= 0 for walk in walks.values())
    timings = json.loads((results / "fip_exact" / "seed0" / "provenance.json").read_text())["timings"]
    assert timings["walk_seconds_per_step"] > 0
    assert "cost_per_step_vs_fip_normalised" in (results / "summary.md").read_text()
    assert (results / "fig_solvers.png").stat().st_size > 0


def test_smoke_dag_writes_the_task_sequence_study(smoke_run):
    results = smoke_run / "results" / "smoke" / "task_sequence" / "split_cifar10"
    first = json.loads((results / "first_task" / "seed0" / "metrics.json").read_text())
    order = first["class_order"]
    assert sorted(order) == list(range(10))
    for method in ("fip", "naive", "ewc", "gem", "agem", "replay"):
        metrics = json.loads((results / method / "seed0" / "metrics.json").read_text())
        assert metrics["class_order"] == order and metrics["tasks"] == [order[0:2], order[2:4], order[4:6]]
        assert [entry["task"] for entry in metrics["after_task"]] == [0, 1, 2]
        for entry in metrics["after_task"]:  # accuracies of the tasks seen; scores of the 10 images per task seen
            seen = entry["task"] + 1
            assert f"task{seen}_task_incremental" in entry and f"task{seen + 1}_task_incremental" not in entry
            assert sum(score is not None for score in entry["scores"]) == 10 * seen and len(entry["scores"]) == 30
            assert all(0 <= score <= 1 for score in entry["scores"] if score is not None)
        assert {"mean_task_incremental", "mean_class_incremental", "task3_class_incremental"} <= set(metrics["final"])
        assert metrics["final"]["mean_task_incremental"] >= metrics["final"]["mean_class_incremental"]
        timings = json.loads((results / method / "seed0" / "provenance.json").read_text())["timings"]
        assert len(timings["seconds_per_task"]) == 2
    fip = json.loads((results / "fip" / "seed0" / "metrics.json").read_text())
    held = {entry["task"]: entry["memory_images"] for entry in fip["curve"]}
    assert held == {1: 20, 2: 40}  # 20 images of each task left
    for name in ("summary.md", "finals.csv", "fig2e_accuracy.png", "fig2e_accuracy.csv", "fig2e_heatmap.png",
                 "fig2f_sequence.png"):
        assert (results / name).stat().st_size > 0
    assert "| ts-cifar10-fip-beats-naive-ti |" in (smoke_run / "results" / "smoke" / "claims.md").read_text()


def test_smoke_dag_writes_the_bert_study(smoke_run):
    results = smoke_run / "results" / "smoke" / "bert"
    paths = ["base", "sparse", "yelp", "imdb_fip", "imdb_naive", "co", "cl_co", "co_cl20", "co_cl40"]
    found = {path: json.loads((results / path / "seed0" / "metrics.json").read_text()) for path in paths}
    nodes = {path: metrics["nodes"] for path, metrics in found.items()}
    for path, metrics in found.items():
        assert [node["node"] for node in metrics["nodes"]] == list(range(len(metrics["nodes"])))
        for node in metrics["nodes"]:
            assert (smoke_run / "work" / "smoke" / "bert" / path / "seed0" / f"node{node['node']}.pt").is_file()
    # each path starts from the node the study names (co_cl<p>: co's node projected to p) and carries its scores
    starts = {path: found[path]["start"] for path in paths[1:]}
    assert starts["imdb_fip"] == f"yelp/{len(nodes['yelp']) - 1}"
    assert starts["co_cl20"] == f"co/{next(n['node'] for n in nodes['co'] if n['stage_end'] and n['target'] == 20)}"
    for path, start in starts.items():
        parent, k = start.split("/")
        assert found[path]["start_scores"].items() <= nodes[parent][int(k)].items()
    # the sparsifying paths end every walk exactly on its target, counted in the weights
    for path, targets in (("sparse", [50, 80]), ("co", [20, 40]), ("cl_co", [20, 40])):
        ends = [node for node in nodes[path] if node["stage_end"]]
        assert [node["target"] for node in ends] == targets
        assert all(abs(node["sparsity"] - node["target"]) < 0.01 for node in ends)
    # Co-then-CL learns IMDB with the zeros of its start kept
    for p in (20, 40):
        assert all(abs(node["sparsity"] - p) < 0.01 for node in nodes[f"co_cl{p}"])
    assert nodes["imdb_fip"][0]["previous"] == starts["imdb_fip"]
    fip = json.loads((results / "imdb_fip" / "seed0" / "metrics.json").read_text())
    assert fip["memory"]["inputs"] == 8 and fip["tasks"] == ["yelp", "imdb"]
    sparse = json.loads((results / "sparse" / "seed0" / "metrics.json").read_text())
    assert sparse["memory"]["outputs"] == "masked-token distributions"
    assert set(sparse["fill_mask"]) == {"0", "50", "80"} and all(len(row["top"]) == 3 for row in sparse["fill_mask"]["80"])
    oneshot = json.loads((results / "oneshot" / "seed0" / "metrics.json").read_text())
    assert oneshot["levels"]["80"]["oneshot_retrained"]["steps"] == oneshot["levels"]["80"]["fip"]["steps"] == 8
    query = json.loads((results / "query" / "seed0" / "metrics.json").read_text())
    assert len(query["nodes"]) == sum(len(n) for n in nodes.values()) >= 6
    assert len(query["edges"]) == len(query["nodes"]) - 1  # a tree: every node but the root has one predecessor
    assert set(query["orders"]) == {"20", "40"} and all(row["distance"] > 0 for row in query["orders"].values())
    timings = json.loads((results / "query" / "seed0" / "provenance.json").read_text())["timings"]
    assert timings["wikitext_seconds_per_model"] > 0 and timings["imdb_seconds_per_model"] > 0
    for name in ("summary.md", "nodes.csv", "fig5a_sparsity.png", "fig5b_continual.png", "fig5cd_orders.png",
                 "fig5e_graph.png", "fig5e_scatter.png", "fig5e_nodes.csv"):
        assert (results / name).stat().st_size > 0
    assert "| bert-5b-fip-keeps-yelp |" in (smoke_run / "results" / "smoke" / "claims.md").read_text()


def test_a_bert_path_rerun_writes_identical_metrics(smoke_run, tmp_path):
    results, work = tmp_path / "results", tmp_path / "work"
    shutil.copytree(smoke_run / "results" / "smoke" / "bert" / "base", results / "base")
    shutil.copytree(smoke_run / "work" / "smoke" / "bert" / "base", work / "base")
    result = cli("--config", json.dumps({"scale": "smoke"}), "bert-path", "--path", "yelp", "--text",
                 "resources/smoke/bert_text.pt", "--results", str(results), "--work", str(work), cwd=smoke_run)
    assert result.returncode == 0, result.stderr[-2000:]
    committed = smoke_run / "results" / "smoke" / "bert" / "yelp" / "seed0" / "metrics.json"
    assert (results / "yelp" / "seed0" / "metrics.json").read_text() == committed.read_text()


def test_check_passes_on_the_smoke_results(smoke_run):
    result = cli("check", "--scale", "smoke", cwd=smoke_run)
    assert result.returncode == 0, result.stdout


def test_check_reports_a_missing_seed_as_incomplete(smoke_run, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(smoke_run / "results", results)
    shutil.rmtree(results / "smoke" / "continual_2task" / "fip" / "seed0")
    result = cli("check", "--scale", "smoke", "--results", str(results), cwd=smoke_run)
    assert result.returncode == 1
    assert "not run" in result.stdout and "c2-fip-keeps-mnist" in result.stdout.split("gates not passed")[-1]


def test_same_job_twice_writes_identical_metrics(smoke_run, tmp_path):
    results = smoke_run / "results" / "smoke" / "continual_2task"
    for method in ("fip", "ewc"):
        again = tmp_path / method
        result = cli("--config", json.dumps({"scale": "smoke"}), "learn", "--study", "continual_2task", "--method", method,
                     "--seed", "0", "--data", "resources/smoke", "--start", "work/smoke/continual_2task/base/seed0/model.pt",
                     "--chosen", str(results / "tune" / method / "chosen.json"), "--out", str(again), cwd=smoke_run)
        assert result.returncode == 0, result.stderr[-2000:]
        assert (again / "metrics.json").read_text() == (results / method / "seed0" / "metrics.json").read_text()
    again = tmp_path / "sparsity-fip"
    result = cli("--config", json.dumps({"scale": "smoke"}), "sparsify", "--network", "lenet300_100", "--method", "fip",
                 "--seed", "0", "--data-dir", "resources/smoke", "--base", "work/smoke/sparsity/lenet300_100/dense/seed0",
                 "--out", str(again), cwd=smoke_run)
    assert result.returncode == 0, result.stderr[-2000:]
    committed = smoke_run / "results" / "smoke" / "sparsity" / "lenet300_100" / "fip" / "seed0" / "metrics.json"
    assert (again / "metrics.json").read_text() == committed.read_text()


def test_job_killed_mid_way_leaves_nothing_and_its_rerun_matches(smoke_run, tmp_path):
    out, log = tmp_path / "killed", tmp_path / "killed.log"
    command = [sys.executable, "-m", "fipbench.cli", "--config", json.dumps({"scale": "smoke"}), "sparsify",
               "--network", "lenet300_100", "--method", "fip", "--seed", "0", "--data-dir", "resources/smoke",
               "--base", "work/smoke/sparsity/lenet300_100/dense/seed0", "--out", str(out)]
    with open(log, "w") as stderr:
        job = subprocess.Popen(command, cwd=smoke_run, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.time() + 120
        while "fip to 90" not in log.read_text() and job.poll() is None and time.time() < deadline:
            time.sleep(0.05)  # until the path is past its first target
        assert job.poll() is None, "the job ended before it could be killed"
        job.send_signal(signal.SIGKILL)
        job.wait()
    assert job.returncode == -signal.SIGKILL
    assert not out.exists() or not any(out.iterdir())  # no metrics.json, no provenance, no temporary file
    result = subprocess.run(command, cwd=smoke_run, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    committed = smoke_run / "results" / "smoke" / "sparsity" / "lenet300_100" / "fip" / "seed0" / "metrics.json"
    assert (out / "metrics.json").read_text() == committed.read_text()


def test_killed_snakemake_resumes_with_the_readme_command_and_a_second_run_is_refused(smoke_run, tmp_path):
    """Snakemake itself killed mid-run (its whole process group, SIGKILL) leaves its lock;
    the README's command run again completes without a manual step, with the metrics of
    an uninterrupted run. While a run is alive, a second one on the same targets is refused."""
    copy = tmp_path / "fipbench"
    shutil.copytree(smoke_run, copy, ignore=shutil.ignore_patterns("bert", ".snakemake", "logs"))
    targets = [f"results/smoke/continual_2task/{method}/seed0/metrics.json" for method in ("fip", "ewc", "naive", "replay")]
    for target in targets:  # jobs in turn, so the run is still alive after the second one is refused, even on busy cores
        (copy / target).unlink()
    log = tmp_path / "first.log"
    with open(log, "w") as out:
        first = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "1", *targets, "--config", "scale=smoke"],
                                 cwd=copy, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 120
        while "rule c2_learn" not in log.read_text() and first.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert first.poll() is None, "the run ended before its job started:\n" + log.read_text()[-2000:]
        second = snakemake("--cores", "1", *targets, "--config", "scale=smoke", cwd=copy, check=False)
        assert second.returncode != 0 and "cannot be locked" in second.stdout + second.stderr
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert first.returncode == -signal.SIGKILL, "the run ended before it could be killed:\n" + log.read_text()[-2000:]
    assert list((copy / ".snakemake" / "locks").glob("*.lock")), "the killed run left no lock to recover from"
    assert not all((copy / target).exists() for target in targets)
    again = snakemake("--cores", "2", *targets, "--config", "scale=smoke", cwd=copy)
    assert "stale Snakemake lock" in again.stderr
    assert all((copy / target).read_text() == (smoke_run / target).read_text() for target in targets)


TORCH_FREE = """import runpy, sys
for name in ("torch", "torchvision", "avalanche", "transformers", "torchattacks"):
    sys.modules[name] = None  # importing any of them now fails
sys.argv = ["fipbench", *sys.argv[1:]]
runpy.run_module("fipbench.cli", run_name="__main__")
"""


def test_rules_of_the_report_env_run_without_torch(smoke_run, tmp_path):
    """Every rule whose conda env is envs/report.yaml (no torch) runs a command that needs
    none: each such command runs here on a copy of the smoke results with torch unimportable."""
    commands = set()
    for rules in (REPO / "rules").glob("*.smk"):
        for block in rules.read_text().split("\nrule ")[1:]:
            if "envs/report.yaml" in block:
                commands.add(re.search(r"fipbench\.cli --config \{params\.cfg:q\} ([a-z-]+)", block).group(1))
    assert commands == {"aggregate", "select", "check"}
    results = tmp_path / "results"
    shutil.copytree(smoke_run / "results", results)

    def run(*args):
        done = subprocess.run([sys.executable, "-c", TORCH_FREE, "--config", json.dumps({"scale": "smoke"}), *args],
                              cwd=smoke_run, capture_output=True, text=True)
        assert done.returncode == 0, f"{args}: {done.stderr[-2000:]}"
    for study in ("continual_2task", "task_sequence", "sparsity", "robustness", "geometry", "bert"):
        run("aggregate", "--study", study, "--scale", "smoke", "--results", str(results))
    grid = sorted((results / "smoke" / "continual_2task" / "tune" / "fip").glob("*/metrics.json"))
    run("select", "--out", str(tmp_path / "chosen.json"), *map(str, grid))
    run("check", "--scale", "smoke", "--results", str(results))


def test_nan_loss_stops_the_job_without_metrics(smoke_run, tmp_path):
    out = tmp_path / "nan"
    config = {"scale": "smoke", "continual_2task": {"fip": {"beta": float("nan")}}}
    result = cli("--config", json.dumps(config), "learn", "--study", "continual_2task", "--method", "fip", "--seed", "0",
                 "--data", "resources/smoke", "--start", "work/smoke/continual_2task/base/seed0/model.pt",
                 "--out", str(out), cwd=smoke_run)
    assert result.returncode != 0
    assert "non-finite loss" in result.stderr
    assert not (out / "metrics.json").exists()


def test_report_page_holds_the_figures_and_the_claims(smoke_run, tmp_path):
    """Every figure the smoke workflow wrote is on the report page (a figure its rule does
    not declare with report() is not), and so are the claims."""
    page = tmp_path / "report.html"
    snakemake("--report", str(page), "--config", "scale=smoke", cwd=smoke_run)
    html = page.read_text()
    figures = sorted(path.name for path in (smoke_run / "results" / "smoke").rglob("*.png"))
    assert len(figures) > 20 and "fig4_reach.png" in figures
    assert [name for name in figures if name not in html] == []
    for needle in ("c2-fip-keeps-mnist", "Fig. 2F(i)", "sp-lenet-fip-991", "rb-fip-beats-deepnet",
                   "bert-5cd-distinct-weights"):
        assert needle in html


@pytest.mark.parametrize("scale", ["laptop", "paper"])
def test_readme_tables_are_generated_from_the_committed_results(scale):
    from fipbench.claims import check, markdown_table
    from fipbench.config import load
    from fipbench.records import job_time_table

    readme = (REPO / "README.md").read_text()
    assert f"<!-- claims:{scale} -->\n" + markdown_table(check(load({"scale": scale}), REPO / "results" / scale)) in readme
    assert f"<!-- jobtime:{scale} -->\n" + job_time_table(REPO / "results" / scale) in readme


def test_python_m_fipbench_runs_the_command_line():
    done = subprocess.run([sys.executable, "-m", "fipbench", "--help"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0 and "aggregate" in done.stdout and "check" in done.stdout


def test_every_command_hands_its_options_to_its_function_by_name():
    """One table of commands: each function takes the config, then exactly the options its
    command declares, under the same names (so no command needs its own argument code)."""
    import inspect

    from fipbench.cli import COMMANDS, OPTIONS, function_of, parser

    for command, (_, _, options) in COMMANDS.items():
        assert list(inspect.signature(function_of(command)).parameters) == ["cfg", *options], command
        assert set(options) <= set(OPTIONS)
    args = parser().parse_args(["sparsify", "--network", "lenet300_100", "--method", "fip", "--seed", "1",
                                "--data-dir", "d", "--base", "b", "--out", "o"])
    assert (args.base_dir, args.out_dir, args.threads) == (Path("b"), Path("o"), 1)
    assert parser().parse_args(["check", "--scale", "smoke"]).results_root == Path("results")
