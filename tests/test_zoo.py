"""`fairness zoo`: fronts, rank agreement and disagreements, on tiny models counted by hand.

The zoo (python: sources from tests/tiny_models.py, input mlp_inputs: 8 features):
  A  shared_mlp(times=8, width=8): params 9*8 + 8*8 + 8 = 144, MACs 8*8 + 8*8*8 = 576, quality 70
  B  mlp_stack(depth=2, width=8):  params 72 + 2*72 = 216,   MACs 64 + 2*64 = 192,    quality 60
  C  mlp_stack(depth=4, width=8):  params 72 + 4*72 = 360,   MACs 64 + 4*64 = 320,    quality 75
By parameters A and C are the front and A dominates B; by MACs B and C are, and C dominates A.
The ranks by parameters (A < B < C) and by MACs (B < C < A) agree on one pair of three:
Kendall's tau-b = (1 - 2) / 3.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fairness import FairnessError
from fairness.record import typed
from fairness.results import load, write
from fairness.zoo import front, groups_of, kendall_tau_b, load_zoo
from cli_run import one_line_exit_2, run

GALLERY_ZOO = Path(__file__).parent.parent / "reports" / "imagenet-zoo"
ZOO = """\
name: tiny-zoo
quality: acc
reference: B
models:
  - {name: A, source: "python:tiny_models:shared_mlp", quality: {acc: 70}, cite: "by hand"}
  - {name: B, source: "python:tiny_models:mlp_stack", kwargs: {depth: 2, width: 8}, quality: {acc: 60}}
  - {name: C, source: "python:tiny_models:mlp_stack", kwargs: {depth: 4, width: 8}, quality: {acc: 75}}
measure: {device: cpu, inputs: "python:tiny_models:mlp_inputs", speed: false}
"""


def _zoo(tmp_path, text=ZOO, name="zoo.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_front_and_who_dominates():
    """(quality, cost): b is dominated by a (better and cheaper); d ties c exactly, so neither
    dominates the other; the front is sorted by cost."""
    on, by = front({"a": (80.0, 1.0), "b": (79.0, 2.0), "c": (81.0, 3.0), "d": (81.0, 3.0)})
    assert on == ["a", "c", "d"] and by == {"b": "a"}


def test_speeds_within_the_noise_are_a_tie():
    """With a 3% noise, b's cost 1% below a's is a tie on cost, so a's higher quality dominates b;
    5% below is cheaper, and both stay on the front. c ties a on quality and (within 2%) on cost:
    neither dominates. Without the noise, 1% cheaper keeps b on the front."""
    assert front({"a": (80.0, 1.00), "b": (79.0, 0.99)}, 0.03) == (["a"], {"b": "a"})
    assert front({"a": (80.0, 1.00), "b": (79.0, 0.99)}) == (["b", "a"], {})
    assert front({"a": (80.0, 1.00), "b": (79.0, 0.95)}, 0.03) == (["b", "a"], {})
    assert front({"a": (80.0, 1.00), "c": (80.0, 1.02)}, 0.03) == (["a", "c"], {})


def test_kendall_tau_b_by_hand():
    assert kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)  # 5 concordant, 1 discordant
    # ties: 4 concordant, one tie in x, one in y: 4 / sqrt(5 * 5), as scipy.stats.kendalltau gives
    assert kendall_tau_b([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)
    assert kendall_tau_b([1, 1], [1, 2]) is None


def test_groups_always_hold_the_reference():
    assert groups_of(["r", "a", "b", "c"], "r", 3) == [["r", "a", "b"], ["r", "c"]]
    assert groups_of(["a", "r"], "r", 8) == [["r", "a"]]
    # 23 models besides the reference in groups of 8: 6, 6, 6 and 5, not 7, 7, 7 and 2, so that
    # groups run side by side on several GPUs finish together
    names = ["r", *map(str, range(23))]
    assert [len(g) - 1 for g in groups_of(names, "r", 8)] == [6, 6, 6, 5]
    assert sorted(n for g in groups_of(names, "r", 8) for n in g[1:]) == sorted(names[1:])


def test_zoo_counts_fronts_and_disagreements(tmp_path):
    r = run("zoo", _zoo(tmp_path), "--out", str(tmp_path / "out"), "-q")
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    params = {m["name"]: m["params"]["unique"] for m in res["models"]}
    macs = {m["name"]: m["flops"]["macs"] for m in res["models"]}
    assert params == {"A": 144, "B": 216, "C": 360} and macs == {"A": 576, "B": 192, "C": 320}
    z = res["zoo"]
    assert z["fronts"]["params"] == ["A", "C"] and z["dominated"]["params"] == {"B": "A"}
    assert z["fronts"]["macs"] == ["B", "C"] and z["dominated"]["macs"] == {"A": "C"}
    assert z["tau"]["params"]["macs"] == pytest.approx(-1 / 3)
    texts = [d["text"] for d in z["disagreements"]]
    assert any(t.startswith("A is on the parameters front but dominated on MACs and FLOPs by C (acc 75 against 70")
               for t in texts)
    assert any(t.startswith("B is on the MACs and FLOPs fronts but dominated on parameters by A") for t in texts)
    assert "agree least" in r.output and "report:" in r.output
    for f in ("report.html", "report.md", "table.tex", "results.csv", "fig_fronts.pdf", "fig_agreement.pdf"):
        assert (tmp_path / "out" / f).stat().st_size > 0
    csv = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert csv[0].startswith("model,quality,params,macs,flops") and csv[1] == "A,70.0,144.0,576.0,1224.0,1,0,0,,"  # FLOPs: 2 x 576 + 9 bias adds of 8


def test_zoo_timed_in_groups_with_the_reference(tmp_path):
    """group_size 2: B (the reference) is timed with A, then with C; every speed in the fronts
    is B's median times the model's speed-up over B in its own group."""
    text = ZOO.replace("speed: false", "speed: true, min_time: 0.05, batch: [2]") + "group_size: 2\n"
    r = run("zoo", _zoo(tmp_path, text), "--out", str(tmp_path / "out"), "-q")
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["zoo"]["groups"] == [["B", "A"], ["B", "C"]]
    by = {m["name"]: m for m in res["models"]}
    assert [by[n]["zoo"]["group"] for n in "AC"] == [0, 1] and len(by["B"]["zoo"]["reference_runs"]) == 2
    runs = by["B"]["zoo"]["reference_runs"]
    tps = sorted(s["throughput"]["samples_per_s"] for s in runs)
    assert by["B"]["zoo"]["throughput"] == pytest.approx(sum(tps) / 2)  # the median of two
    for n in "AC":
        z = by[n]["zoo"]
        assert z["throughput"] == pytest.approx(by["B"]["zoo"]["throughput"] * z["throughput_speedup"])
        assert z["latency"] == pytest.approx(by["B"]["zoo"]["latency"] / z["latency_speedup"])
    assert "throughput" in res["zoo"]["fronts"] and "latency" in res["zoo"]["fronts"]


def test_a_timm_results_csv_is_a_zoo(tmp_path):
    """timm's results tables: model, img_size, top1, ...; weights listed at two sizes get the size
    in their name, and the quality metric must be chosen when there are several."""
    path = _zoo(tmp_path, "model,img_size,top1,top1_err,top5,param_count\n"
                          "resnet50.a1_in1k,288,81.240,18.760,95.112,25.56\n"
                          "resnet50.a1_in1k,224,80.382,19.618,94.598,25.56\n"
                          "resnet18.a1_in1k,224,71.504,28.496,90.086,11.69\n", "results.csv")
    with pytest.raises(FairnessError, match="several quality numbers \\(top1, top5\\)"):
        load_zoo(path)
    zoo = load_zoo(path, quality="top1")
    assert [m["name"] for m in zoo["models"]] == ["resnet50.a1_in1k @ 288 px", "resnet50.a1_in1k @ 224 px",
                                                  "resnet18.a1_in1k"]
    assert zoo["models"][0]["source"] == "timm:resnet50.a1_in1k" and zoo["models"][0]["image_size"] == 288
    assert zoo["reference"] == "resnet50.a1_in1k @ 288 px" and zoo["models"][2]["quality"]["top1"] == 71.504


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.replace("reference: B", "reference: Z"), "reference 'Z' is not one of the models"),
    (lambda t: t.replace("quality: acc\n", "quality: top1\n"), "quality 'top1' is given for no model"),
    (lambda t: t.replace("cite: ", "citation: "), "unknown key 'citation'"),
    (lambda t: t.replace("{acc: 60}", "{acc: high}"), "models[1].quality.acc: 'high'; expected a number"),
    (lambda t: t.replace("name: C,", "name: A,"), "the name 'A' is given to two models"),
    (lambda t: t + "executor: dask\n", "executor: 'dask'; expected local, ray, or {name: ray, address: HEAD:6379}"),
])
def test_bad_zoo_files_one_line_exit_2(tmp_path, edit, expected):
    r = run("zoo", _zoo(tmp_path, edit(ZOO)), "--out", str(tmp_path / "out"))
    one_line_exit_2(r, expected)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("style", ["neurips", "icml", "iclr"])
@pytest.mark.parametrize("zoo", ["tiny", "gallery"])
def test_zoo_figures_text_never_overlaps_nor_leaves_the_figure(tmp_path, style, monkeypatch, zoo):
    """The fronts and the agreement heat map, from matplotlib's own text extents: the tiny zoo
    (three panels), and the gallery's twelve ImageNet models timed on an H200 (six panels, which
    in one row of 5.5 in laid their axis labels over each other)."""
    import matplotlib.pyplot as plt

    from fairness.render.zoo import agreement_figure, fronts_figure
    from fairness.results import load
    from fairness.zoo import run_zoo
    from test_report import drawn_texts

    res = run_zoo(_zoo(tmp_path)) if zoo == "tiny" else load(str(GALLERY_ZOO / "results.json"))
    for make in (fronts_figure, agreement_figure):
        fig = make(res, style)
        renderer = fig.canvas.get_renderer()
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in drawn_texts(fig, monkeypatch)]
        for text, b in boxes:
            assert fig.bbox.x0 - 0.5 <= b.x0 and b.x1 <= fig.bbox.x1 + 0.5 and fig.bbox.y0 - 0.5 <= b.y0 \
                and b.y1 <= fig.bbox.y1 + 0.5, (make.__name__, text)
        for i, (ta, a) in enumerate(boxes):
            for tb, b in boxes[i + 1:]:
                assert not (min(a.x1, b.x1) - max(a.x0, b.x0) > 0.5 and min(a.y1, b.y1) - max(a.y0, b.y0) > 0.5), \
                    (make.__name__, ta, tb)
        plt.close(fig)


def test_executor_ray_without_ray_names_the_extra(tmp_path, monkeypatch):
    """sys.modules[name] = None makes `import ray` raise ImportError, as when it is not installed."""
    monkeypatch.setitem(sys.modules, "ray", None)
    r = run("zoo", _zoo(tmp_path), "--out", str(tmp_path / "out"), "--executor", "ray")
    one_line_exit_2(r, "--executor ray: Ray is not installed; pip install 'fairness[ray]'")
    assert not (tmp_path / "out").exists()


def test_the_local_executor_imports_no_ray(tmp_path):
    """local is the default and needs nothing more: a fresh process that runs the zoo has no ray
    module afterwards (a Ray import costs seconds and needs the extra)."""
    code = ("import sys; from click.testing import CliRunner; from fairness.cli import main; "
            f"r = CliRunner().invoke(main, ['zoo', {_zoo(tmp_path)!r}, '--out', {str(tmp_path / 'out')!r}, '-q']); "
            "assert r.exit_code == 0, r.output; print('ray' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(__file__),
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr[-2000:]


def test_a_model_without_quality_is_kept_out_of_the_fronts(tmp_path):
    """C's acc left out: A and B make the fronts alone (by parameters A dominates B; by MACs B
    is cheaper and A better), C's costs still rank, and the report names C."""
    r = run("zoo", _zoo(tmp_path, ZOO.replace(", quality: {acc: 75}", "")), "--out", str(tmp_path / "out"), "-q")
    assert r.exit_code == 0, r.output
    z = json.loads((tmp_path / "out" / "results.json").read_text())["zoo"]
    assert z["no_quality"] == ["C"]
    assert z["fronts"]["params"] == ["A"] and z["dominated"]["params"] == {"B": "A"}
    assert z["fronts"]["macs"] == ["B", "A"] and z["dominated"]["macs"] == {}
    assert z["tau"]["params"]["macs"] == pytest.approx(-1 / 3)  # over all three models, C included
    assert "No acc given for C: kept out of the fronts" in r.output
    assert "| C | no quality | " in (tmp_path / "out" / "report.md").read_text()


TIMM_CSV = "model,img_size,top1\nresnet18.a1_in1k,224,71.504\n{row}\n"


@pytest.mark.parametrize("row, expected", [
    ("resnet5O.a1_in1k,224,80.4",  # a capital O for the zero
     "line 3: model 'resnet5O.a1_in1k': unknown timm model 'resnet5O.a1_in1k'; closest: "),
    ("tv:resnet50,224,80.4", "line 3: model 'tv:resnet50': model source 'tv:resnet50': expected PREFIX:NAME"),
    ("torchvision:resnet5000,224,80.4", "line 3: model 'torchvision:resnet5000': unknown torchvision model"),
    ("resnet18.a1_in1k,224,71.504", "the name 'resnet18.a1_in1k @ 224 px' is given to two models"),
])
def test_bad_zoo_csv_rows_one_line_exit_2(tmp_path, row, expected):
    """A row whose model names no model its library knows is found before anything runs."""
    r = run("zoo", _zoo(tmp_path, TIMM_CSV.format(row=row), "results.csv"), "--out", str(tmp_path / "out"))
    one_line_exit_2(r, expected)
    if "line 3" in expected:
        assert "write a source in the model column (timm:NAME, torchvision:NAME" in r.stderr
    assert not (tmp_path / "out").exists()


def test_five_models_through_every_format(tmp_path):
    """Counts only: the three models above, D = mlp_stack(depth=3, width=8) (params 72 + 3*72 =
    288, MACs 64 + 3*64 = 256) and shared_mlp(times=4) under a hostile name. The LaTeX table and
    both figures compiled by pdflatex, the HTML opened in headless Chromium with the name shown
    as text, the Markdown parsed, the CSV and JSON read back."""
    import csv
    import html
    import re

    from markdown_it import MarkdownIt

    from test_report import HOSTILE, need

    pdflatex, chromium = need("pdflatex"), need("chromium")
    text = ZOO.replace("measure:", "  - {name: D, source: \"python:tiny_models:mlp_stack\", kwargs: {depth: 3, "
                                   "width: 8}, quality: {acc: 65}}\n"
                                   f"  - {{name: {json.dumps(HOSTILE)}, source: \"python:tiny_models:shared_mlp\", "
                                   "kwargs: {times: 4}, quality: {acc: 72}}\nmeasure:")
    out = tmp_path / "out"
    r = run("zoo", _zoo(tmp_path, text), "--out", str(out), "-q")
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    names = [m["name"] for m in res["models"]]
    assert names == ["A", "B", "C", "D", HOSTILE]
    assert (res["models"][3]["params"]["unique"], res["models"][3]["flops"]["macs"]) == (288, 256)

    (out / "doc.tex").write_text("\\documentclass{article}\\usepackage{booktabs}\\usepackage{graphicx}\n"
                                 "\\begin{document}\n\\input{table.tex}\n\\includegraphics[width=\\linewidth]"
                                 "{fig_fronts.pdf}\n\\includegraphics{fig_agreement.pdf}\n\\end{document}\n")
    proc = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=out,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and "Output written on doc.pdf" in proc.stdout, proc.stdout[-2000:]

    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--no-first-run", "--enable-logging=stderr", "--v=0",
                           "--dump-dom", (out / "report.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [line for line in proc.stderr.splitlines() if "CONSOLE" in line] == []
    dom = proc.stdout
    assert "<script" not in dom.replace("&lt;script", "")  # the hostile name is text, never an element
    table = dom.split("<table>")[1].split("</table>")[0]
    cells = [html.unescape(c) for c in re.findall(r"<tr><td>(.*?)</td>", table)]
    assert cells == names

    md = MarkdownIt("commonmark").enable("table").parse((out / "report.md").read_text())
    rows = [t for t in md if t.type == "tr_open"]
    assert len(rows) == 1 + 5 + 1 + 3  # the models (a header and 5), tau (a header, params, MACs, FLOPs)

    with open(out / "results.csv", newline="") as f:
        assert [row["model"] for row in csv.DictReader(f)] == names


def test_a_csv_row_without_quality_is_read(tmp_path):
    """An empty top1 cell: the model is read without quality (the fronts leave it out, as above)."""
    zoo = load_zoo(_zoo(tmp_path, TIMM_CSV.format(row="resnet50.a1_in1k,224,"), "results.csv"))
    assert zoo["quality"] == "top1" and [m["quality"] for m in zoo["models"]] == [{"top1": 71.504}, {}]


def test_a_zoo_is_a_gallery_entry(tmp_path):
    """`fairness gallery` takes a zoo file: renders its results again, and its line gives the fronts."""
    config = _zoo(tmp_path)
    r = run("zoo", config, "--out", str(tmp_path / "gallery" / "tiny-zoo"), "-q")
    assert r.exit_code == 0, r.output
    (tmp_path / "gallery" / "tiny-zoo" / "report.html").unlink()
    r = run("gallery", config, "--out", str(tmp_path / "gallery"))
    assert r.exit_code == 0, r.output
    index = (tmp_path / "gallery" / "README.md").read_text()
    assert "**tiny-zoo**" in index and "3 models, counts only: models on each front: params 2, macs 2" in index
    assert (tmp_path / "gallery" / "tiny-zoo" / "report.html").exists()


def test_groups_on_different_gpu_types_are_said(tmp_path):
    """Ray names each group's GPU; two types in one zoo: the summary says speeds compare across
    them only through the reference, and the environment lists where each group ran."""
    from fairness.render.zoo import summary, where_timed
    from fairness.zoo import gpu_types, run_zoo

    res = run_zoo(_zoo(tmp_path))
    placement = [{"group": 0, "models": ["B", "A"], "seconds": 10.0, "failed": None, "host": "n1", "gpus": ["0"],
                  "gpu_name": "NVIDIA H200"},
                 {"group": 1, "models": ["B", "C"], "seconds": 12.0, "failed": None, "host": "n2", "gpus": ["1"],
                  "gpu_name": "NVIDIA A100-SXM4-80GB"}]
    assert gpu_types(placement) == {"NVIDIA H200": [1], "NVIDIA A100-SXM4-80GB": [2]}
    assert gpu_types([{**p, "gpu_name": "NVIDIA H200"} for p in placement]) == {"NVIDIA H200": [1, 2]}
    assert gpu_types([{k: v for k, v in p.items() if k != "gpu_name"} for p in placement]) == {}
    res["zoo"]["executor"]["groups"], res["zoo"]["gpu_types"] = placement, gpu_types(placement)
    (line,) = [x for x in summary(res) if "different GPUs" in x]
    assert line.startswith("The groups were timed on different GPUs (NVIDIA H200: group 1; NVIDIA A100-SXM4-80GB: "
                           "group 2): a speed here compares across them only through B")
    assert where_timed(res)[1] == ("timing group 2", "B, C: on n2, GPU 1 (NVIDIA A100-SXM4-80GB), 12 s")


def test_render_takes_a_zoo_results_file(tmp_path):
    """`fairness render` re-renders a zoo's results.json as a zoo, not as a comparison."""
    r = run("zoo", _zoo(tmp_path), "--out", str(tmp_path / "out"), "-q")
    assert r.exit_code == 0, r.output
    r = run("render", str(tmp_path / "out" / "results.json"), "--out", str(tmp_path / "again"))
    assert r.exit_code == 0, r.output
    html = (tmp_path / "again" / "report.html").read_text()
    assert "fairness zoo: tiny-zoo" in html and (tmp_path / "again" / "fig_fronts.pdf").stat().st_size > 0
    assert (tmp_path / "again" / "report.md").read_text() == (tmp_path / "out" / "report.md").read_text()


def test_render_derives_a_zoos_fronts_again_by_the_current_rules(tmp_path):
    """A results file whose fronts were written by other rules (here: emptied) is re-rendered
    with the fronts its measurements give now, as a comparison is judged again."""
    r = run("zoo", _zoo(tmp_path), "--out", str(tmp_path / "out"), "-q")
    assert r.exit_code == 0, r.output
    res = load(str(tmp_path / "out" / "results.json"))
    fresh = res["zoo"]["fronts"]
    res["zoo"]["fronts"], res["zoo"]["disagreements"] = {k: [] for k in fresh}, []
    write(res, tmp_path / "stale.json")
    r = run("render", str(tmp_path / "stale.json"), "--out", str(tmp_path / "again"))
    assert r.exit_code == 0, r.output
    assert load(str(tmp_path / "again" / "results.json"))["zoo"]["fronts"] == fresh
    assert (tmp_path / "again" / "report.md").read_text() == (tmp_path / "out" / "report.md").read_text()


def _timed(name: str, acc: float, eager: float, graph: float) -> dict:
    """A model timed at batch 256, eager and replayed from a CUDA graph (samples/s), and at batch 1."""
    speed = {"throughput": {"batch_size": 256, "samples_per_s": eager}, "latency": {"batch_size": 1, "median_s": 1e-3},
             "cuda_graph": {"throughput": {"batch_size": 256, "samples_per_s": graph},
                            "latency": {"batch_size": 1, "median_s": 1e-3}}}
    return {"id": name, "name": name, "role": "zoo", "quality": {"acc": acc}, "speed": speed,
            "params": {"unique": 100}, "zoo": {"group": 0}}


def test_cuda_graph_speeds_get_fronts_of_their_own():
    """Timed with --cuda-graphs: the replayed throughput through the reference as the eager one is,
    and a front of its own. By hand: R (the reference) 1000 samples/s eager and 2000 replayed,
    A 1.5x and 0.9x R's, B 0.5x and 1.2x; A's 1.5x eager is 1500, its 0.9x replayed 1800."""
    from fairness.zoo import _via_reference, analyse

    r, a, b = _timed("R", 80, 1000, 2000), _timed("A", 70, 1500, 1800), _timed("B", 75, 500, 2400)
    r["zoo"]["reference_runs"] = [r["speed"]]
    ratio = lambda m, impl, x: {"model": m, "reference": "R", "indicator": "throughput", "batch_size": 256,  # noqa: E731
                                "implementation": impl, "speedup": x, "ci95": [x, x]}
    res = {"models": typed([r, a, b]), "speed_ratios": [ratio("A", "eager", 1.5), ratio("A", "cuda_graph", 0.9),
                                                        ratio("B", "eager", 0.5), ratio("B", "cuda_graph", 1.2)]}
    _via_reference(res, "R")
    r, a, b = res["models"]  # the records with their speeds through the reference
    assert a.zoo["throughput"] == pytest.approx(1500) and a.zoo["graph_throughput"] == pytest.approx(1800)
    assert b.zoo["graph_throughput"] == pytest.approx(2400) and r.zoo["graph_throughput"] == 2000
    z = analyse(res, {"quality": "acc", "lower_is_better": False})
    assert "graph_throughput" in z["indicators"]
    # eager: A is fastest, R best; replayed: B is fastest, R best; A is dominated by R replayed
    assert z["fronts"]["throughput"] == ["A", "R"] and z["dominated"]["throughput"] == {"B": "R"}
    assert z["fronts"]["graph_throughput"] == ["B", "R"] and z["dominated"]["graph_throughput"] == {"A": "R"}
    assert any(d["model"] == "A" and "graph_throughput" in d["dominated_on"] and d["by"] == "R"
               for d in z["disagreements"])


def test_the_summary_names_the_models_whose_eager_throughput_is_host_bound():
    """A's batch-256 run idled over half of each step (marked host_bound when measured): the
    summary names A alone and points to the CUDA graph column."""
    from fairness.render.zoo import summary
    from fairness.zoo import _via_reference, analyse

    r, a = _timed("R", 80, 1000, 2000), _timed("A", 70, 1500, 1800)
    a["speed"]["throughput"]["host_bound"] = True
    r["zoo"]["reference_runs"] = [r["speed"]]
    res = {"models": typed([r, a]), "speed_ratios": [
        {"model": "A", "reference": "R", "indicator": "throughput", "batch_size": 256, "implementation": impl,
         "speedup": x, "ci95": [x, x]} for impl, x in (("eager", 1.5), ("cuda_graph", 0.9))]}
    _via_reference(res, "R")
    res["zoo"] = {"name": "z", "quality": "acc", "lower_is_better": False, "reference": "R", "groups": [["R", "A"]],
                  **analyse(res, {"quality": "acc", "lower_is_better": False})}
    (line,) = [x for x in summary(res) if x.startswith("Throughput at batch 256")]
    assert line == ("Throughput at batch 256 is bound by the host's kernel launches for A (the GPU idled over half "
                    "of each step); the CUDA graph column times the device's.")


def test_the_zoo_table_fits_a_column(tmp_path):
    """Issue 32: the gallery's zoo table (12 models, eight indicators) was 466 pt wider than a
    5.5 in page. Short headers over their units, and the replayed speeds only where the zoo has
    them, fit it; compiled by pdflatex, no box is overfull."""
    import re
    import shutil

    from fairness.render.zoo import zoo_table_tex

    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        if os.environ.get("FAIRNESS_REQUIRE_TOOLS") == "1":
            pytest.fail("pdflatex is required here (FAIRNESS_REQUIRE_TOOLS=1) but not installed")
        pytest.skip("pdflatex is not installed")
    res = load(Path(__file__).parent.parent / "reports" / "imagenet-zoo" / "results.json")
    (tmp_path / "table.tex").write_text(zoo_table_tex(res))
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\n\\usepackage[textwidth=5.5in]{geometry}\n\\usepackage{booktabs}\n"
        "\\begin{document}\n\\input{table.tex}\n\\end{document}\n")
    proc = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "main.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:]
    log = (tmp_path / "main.log").read_text(errors="replace")
    assert not re.findall(r"Overfull \\hbox \(([0-9.]+)pt", log)
    assert "Thr., graph" in (tmp_path / "table.tex").read_text()


def test_families_are_joined_into_curves_and_compared_where_both_reach(tmp_path):
    """Two families (tests/tiny_models.py): "shared" A (144 parameters, acc 70) and
    D = shared_mlp(times=8, width=16) (9*16 + 16*16 + 16 = 416, acc 80); "stack" B (216, 60) and
    C (360, 75). Both reach 216 to 360 parameters. Each curve is linear in log(parameters), so their
    gap is too, and its mean over points spaced evenly in log is the mean of its ends:
    at 216, 70 + 10 ln(216/144)/ln(416/144) - 60 = 13.82; at 360, 70 + 10 ln(360/144)/ln(416/144) - 75
    = 3.64; mean 8.73."""
    import math

    text = ZOO.replace('{name: A, source', '{name: A, family: shared, source') \
        .replace('{name: B, source', '{name: B, family: stack, source') \
        .replace('{name: C, source', '{name: C, family: stack, source') \
        .replace("measure:", '  - {name: D, family: shared, source: "python:tiny_models:shared_mlp", '
                             'kwargs: {width: 16}, quality: {acc: 80}}\nmeasure:')
    r = run("zoo", _zoo(tmp_path, text), "--out", str(tmp_path / "out"), "-q")
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {m["name"]: m["params"]["unique"] for m in res["models"]}["D"] == 416
    fam = res["zoo"]["families"]["params"]
    assert fam["members"] == {"shared": ["A", "D"], "stack": ["B", "C"]}
    (pair,) = fam["pairs"]
    ends = [70 + 10 * math.log(x / 144) / math.log(416 / 144) - (60 + 15 * math.log(x / 216) / math.log(360 / 216))
            for x in (216, 360)]
    assert pair["above"] == "shared" and pair["points"] == pytest.approx(sum(ends) / 2) and pair["range"] == [216, 360]
    assert pair["points"] == pytest.approx(8.73, abs=0.01)
    md = (tmp_path / "out" / "report.md").read_text()
    assert "Family curves (acc, the mean gap where both reach): parameters: shared above stack by 8.7" in md


def test_the_summary_says_the_speeds_are_read_through_the_reference():
    """Issue 32, item 6: the zoo's speed cells are the reference's median times each model's paired
    speed-up over it (_via_reference), not each model's own median; the first line says so. A's
    throughput reads 1.5 x R's 1000/s = 1500/s, though its own median is 1400/s."""
    from fairness.render.zoo import summary
    from fairness.zoo import _via_reference, analyse

    r, a = _timed("R", 80, 1000, 2000), _timed("A", 70, 1400, 1800)
    r["zoo"]["reference_runs"] = [r["speed"]]
    res = {"models": typed([r, a]), "speed_ratios": [
        {"model": "A", "reference": "R", "indicator": "throughput", "batch_size": 256, "implementation": "eager",
         "speedup": 1.5, "ci95": [1.5, 1.5]}]}
    _via_reference(res, "R")
    assert res["models"][1].zoo["throughput"] == pytest.approx(1500)
    res["zoo"] = {"name": "z", "quality": "acc", "lower_is_better": False, "reference": "R", "groups": [["R", "A"]],
                  **analyse(res, {"quality": "acc", "lower_is_better": False})}
    assert ("Each model's throughput and latency here is R's median times the model's speed-up over it, paired "
            "round by round") in summary(res)[0]


def test_the_summary_says_where_two_families_trade_places():
    from fairness.zoo import family_summary

    pair = lambda above, below, pts: {"above": above, "below": below, "points": pts, "range": [1, 2]}  # noqa: E731
    families = {"params": {"pairs": [pair("ResNet", "DeiT", 0.2)]}, "flops": {"pairs": [pair("ResNet", "DeiT", 0.8)]},
                "throughput": {"pairs": [pair("DeiT", "ResNet", 3.0)]},
                "graph_throughput": {"pairs": [pair("DeiT", "ResNet", 0.6), pair("DeiT", "EfficientNet", 2.7)]}}
    lines = family_summary(families, "top1")
    assert lines[0] == ("Family curves (top1, the mean gap where both reach): parameters: ResNet above DeiT by 0.2; "
                        "FLOPs: ResNet above DeiT by 0.8; throughput with CUDA graphs: DeiT above ResNet by 0.6, "
                        "DeiT above EfficientNet by 2.7 (DeiT highest).")  # the replayed speed, not the eager one
    assert lines[1] == ("The order of DeiT and ResNet flips with the indicator: DeiT is above at equal throughput with "
                        "CUDA graphs, ResNet at equal parameters, FLOPs.")
