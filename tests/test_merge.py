"""`fairness merge`: the same models on several targets, one column per target.

By hand (test_hardware_mismatch_in_words): four models timed on two targets, throughput in
samples/s:
            cuda/bf16   cpu/fp32
  r50         3000         10
  vit         2000         20       r50 and vit swap: 1.5x vit's throughput on cuda, 0.5x on cpu
  d           1001          4.9     d and m swap too, but by 0.1% and 2%: within the 3% noise, no finding
  m           1000          5
Of the six pairs four keep their order and two swap: Kendall's tau-b = (4 - 2) / 6 = 1/3.

For real (the module's fixture): the tiny zoo of test_zoo.py timed on the CPU in float32 and in
bfloat16, at a minimum time of 0.02 s per model.
"""

import json
import math
import shutil

import pytest

from cli_run import one_line_exit_2, run
from fairness.indicators import memory
from fairness.merge import merge
from fairness.readings import SPEED_NOISE
from fairness.zoo import kendall_tau_b
from test_zoo import ZOO


def _record(name: str, source: str, params: int, throughput: float) -> dict:
    return {"id": name, "role": "zoo", "name": name, "source": source, "kwargs": {}, "input": {"kind": "image"},
            "params": {"unique": params}, "flops": {"macs": 2 * params, "flops": 4 * params},
            "speed": {"settings": {"device": "cpu", "batch_sizes": [1]},
                      "throughput": {"batch_size": 1, "samples_per_s": throughput}}}


def _results(device: str, dtype: str, device_name: str, speeds: dict, names: dict | None = None) -> dict:
    sources = {"r50": "timm:resnet50", "vit": "timm:vit_base_patch16_224", "d": "timm:d", "m": "timm:m"}
    models = [_record((names or {}).get(n, n), sources[n], 100 + i, v) for i, (n, v) in enumerate(speeds.items())]
    for m in models:
        m["speed"]["settings"]["device"] = device
    return {"schema": "fairness/v1", "environment": {"device": device, "dtype": dtype, "device_name": device_name,
                                                     "compile": False, "threads": 2},
            "models": models, "flags": []}


def test_hardware_mismatch_in_words():
    """Models are matched by source, not by name: vit is 'ViT-B/16' in the first file."""
    cuda = _results("cuda", "bfloat16", "NVIDIA H200", {"r50": 3000, "vit": 2000, "d": 1001, "m": 1000},
                    names={"vit": "ViT-B/16"})
    cpu = _results("cpu", "float32", "Intel Xeon", {"r50": 10, "vit": 20, "d": 4.9, "m": 5})
    res = merge([("cuda.json", cuda), ("cpu.json", cpu)])
    assert [t["label"] for t in res["merge"]["targets"]] == ["cuda/bf16", "cpu/fp32"]  # device names: no news
    assert [m.name for m in res["models"]] == ["r50", "ViT-B/16", "d", "m"] and res["merge"]["missing"] == []
    (ranking,) = res["merge"]["rankings"]  # throughput only: no latency was given
    assert ranking["tau"] == pytest.approx(1 / 3) and ranking["models"] == 4
    (flag,) = res["flags"]
    assert flag["id"] == "hardware-mismatch" and flag["models"] == ["r50", "ViT-B/16"]
    assert flag["message"] == ("The ranking by throughput changes between cuda/bf16 and cpu/fp32: tau 0.33; r50 is "
                               "faster than ViT-B/16 on cuda/bf16 but slower on cpu/fp32 (1.5x the throughput of "
                               "ViT-B/16 on cuda/bf16, 0.5x on cpu/fp32)")


def test_a_swap_within_the_noise_is_no_finding():
    """d and m swap by 0.1% on cuda and 2% on cpu: under SPEED_NOISE (3%) on both, so tau says the
    order differs but no finding claims the hardware changed it."""
    cuda = _results("cuda", "bfloat16", "NVIDIA H200", {"d": 1001, "m": 1000})
    cpu = _results("cpu", "float32", "Intel Xeon", {"d": 4.9, "m": 5})
    res = merge([("cuda.json", cuda), ("cpu.json", cpu)])
    (ranking,) = res["merge"]["rankings"]
    assert ranking["tau"] == -1 and ranking["swap"] is None and res["flags"] == []


def test_the_same_ranking_gives_no_finding():
    cuda = _results("cuda", "bfloat16", "NVIDIA H200", {"r50": 3000, "vit": 2000, "m": 1000})
    cpu = _results("cpu", "bfloat16", "Intel Xeon", {"r50": 30, "vit": 20, "m": 10})
    res = merge([("a.json", cuda), ("b.json", cpu)])
    assert [t["label"] for t in res["merge"]["targets"]] == ["cuda/bf16", "cpu/bf16"]
    assert res["merge"]["rankings"][0]["tau"] == 1 and res["merge"]["rankings"][0]["swap"] is None
    assert res["flags"] == []


@pytest.fixture(scope="module")
def two_targets(tmp_path_factory):
    """The tiny zoo timed on the CPU twice: in float32 and in bfloat16."""
    folder = tmp_path_factory.mktemp("targets")
    (folder / "zoo.yaml").write_text(ZOO.replace("speed: false", "speed: true, min_time: 0.02, batch: [1]"))
    with pytest.MonkeyPatch.context() as mp:
        # peak memory runs a fresh Python per model (3 s each on a small CPU) and is not what a merge is about
        mp.setattr(memory, "cpu_peak_rss", lambda *args: {"peak_rss_bytes": None, "definition": "not measured here"})
        for dtype in ("float32", "bfloat16"):
            r = run("zoo", str(folder / "zoo.yaml"), "--dtype", dtype, "--out", str(folder / dtype), "-q")
            assert r.exit_code == 0, r.output
    return folder


def _throughputs(path) -> dict:
    return {m["name"]: m["zoo"]["throughput"] for m in json.loads(path.read_text())["models"]}


def test_merge_of_two_dtypes_on_the_cpu(two_targets, tmp_path):
    files = [str(two_targets / d / "results.json") for d in ("float32", "bfloat16")]
    r = run("merge", *files, "--out", str(tmp_path / "out"), "--name", "tiny-targets")
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [t["label"] for t in res["merge"]["targets"]] == ["cpu/fp32", "cpu/bf16"]
    by = {m["name"]: m for m in res["models"]}
    assert sorted(by) == ["A", "B", "C"] and by["A"]["params"]["unique"] == 144  # by hand in test_zoo.py
    fp32, bf16 = _throughputs(two_targets / "float32" / "results.json"), _throughputs(two_targets / "bfloat16" /
                                                                                      "results.json")
    assert {n: by[n]["targets"]["cpu/bf16"]["throughput"] for n in by} == pytest.approx(bf16)  # 1 / (1 / v)
    ranking = next(x for x in res["merge"]["rankings"] if x["indicator"] == "throughput")
    # tau over costs (seconds per sample) is tau over throughputs: both sides flip alike
    assert ranking["tau"] == pytest.approx(kendall_tau_b([fp32[n] for n in "ABC"], [bf16[n] for n in "ABC"]))
    swapped = [f for f in res["flags"] if f["evidence"]["indicator"] == "throughput"]
    # a pair in another order by more than the noise on both targets: then, and only then, a finding
    clear = any((fp32[x] / fp32[y] - 1) * (bf16[x] / bf16[y] - 1) < 0
                and min(abs(math.log(fp32[x] / fp32[y])), abs(math.log(bf16[x] / bf16[y]))) > math.log(1 + SPEED_NOISE)
                for x, y in (("A", "B"), ("A", "C"), ("B", "C")))
    if clear:
        assert swapped[0]["message"].startswith(f"The ranking by throughput changes between cpu/fp32 and cpu/bf16: "
                                                f"tau {ranking['tau']:.2f}; ") and swapped[0]["message"] in r.output
    else:
        assert swapped == [] and "The ranking by throughput is the same on cpu/fp32 and cpu/bf16" in r.output
        assert ranking["tau"] == 1 or "are within 3% of each other on one target" in r.output
    csv = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert csv[0] == ("model,source,kwargs,params,macs,flops,throughput@cpu/fp32,throughput@cpu/bf16,latency@cpu/fp32,"
                      "latency@cpu/bf16,acc,missing_from")
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| model | Params (M) | MACs (G) | FLOPs (G) | Throughput (samples/s) cpu/fp32 |" in md
    for f in ("report.html", "table.tex"):
        assert "cpu/bf16" in (tmp_path / "out" / f).read_text()


def test_a_model_in_one_file_only_is_missing_from_the_other(two_targets, tmp_path):
    res = json.loads((two_targets / "bfloat16" / "results.json").read_text())
    res["models"] = [m for m in res["models"] if m["name"] != "C"]
    (tmp_path / "bf16.json").write_text(json.dumps(res))
    r = run("merge", str(two_targets / "float32" / "results.json"), str(tmp_path / "bf16.json"),
            "--out", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    assert "C is missing from cpu/bf16." in r.output
    assert "| C | 0.00 | 0.00 | 0.00 |" in (tmp_path / "out" / "report.md").read_text()
    assert "missing" in (tmp_path / "out" / "report.md").read_text().split("| C |")[1]


def test_counts_that_disagree_are_refused(two_targets, tmp_path):
    """B's parameters edited in one file: a different model under the same source and kwargs."""
    res = json.loads((two_targets / "bfloat16" / "results.json").read_text())
    next(m for m in res["models"] if m["name"] == "B")["params"]["unique"] = 217
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(res))
    first = str(two_targets / "float32" / "results.json")
    r = run("merge", first, str(edited), "--out", str(tmp_path / "out"))
    one_line_exit_2(r, f"merge: B has 216 parameters in {first} but 217 in {edited}; counts do not depend on the "
                       f"target")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("files, expected", [
    (["a.json"], "merge: 1 results file given; expected two or more"),
    (["a.json", "a.json"], "merge: a.json is given twice"),
])
def test_bad_merges_one_line_exit_2(tmp_path, monkeypatch, files, expected):
    monkeypatch.chdir(tmp_path)
    shutil.copy(__file__, tmp_path / "a.json")  # never read: the files are checked first
    r = run("merge", *files, "--out", str(tmp_path / "out"))
    one_line_exit_2(r, expected)


def test_merge_formats_compile_and_open(tmp_path):
    """The hand-built merge under a hostile name: its LaTeX table compiled by pdflatex, its page
    opened in headless Chromium with the name shown as text."""
    import subprocess

    from fairness.render.merge import render_merge
    from test_report import HOSTILE, need

    pdflatex, chromium = need("pdflatex"), need("chromium")
    cuda = _results("cuda", "bfloat16", "NVIDIA H200", {"r50": 3000, "vit": 2000, "m": 1000}, names={"vit": HOSTILE})
    cpu = _results("cpu", "float32", "Intel Xeon", {"r50": 10, "vit": 20, "m": 5})
    render_merge(merge([("cuda.json", cuda), ("cpu.json", cpu)], name=HOSTILE), tmp_path)
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n"
                                      "\\input{table.tex}\n\\end{document}\n")
    proc = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and "Output written on doc.pdf" in proc.stdout, proc.stdout[-2000:]
    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--no-first-run", "--enable-logging=stderr", "--v=0",
                           "--dump-dom", (tmp_path / "report.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [line for line in proc.stderr.splitlines() if "CONSOLE" in line] == []
    dom = proc.stdout
    assert "<script" not in dom.replace("&lt;script", "")
    assert "Where the targets rank the models differently" in dom and "3,000.0 #1" in dom and "20.0 #1" in dom


def test_a_model_that_failed_on_one_target_is_failed_there_not_missing():
    """A failed record keeps only its name (no source to match by): its cell says failed."""
    cuda = _results("cuda", "bfloat16", "NVIDIA H200", {"r50": 3000, "vit": 2000, "m": 1000})
    cpu = _results("cpu", "float32", "Intel Xeon", {"r50": 10, "vit": 20, "m": 5})
    cpu["models"][2] = {"id": "m", "name": "m", "role": "zoo", "failed": "out of memory at batch 1"}
    res = merge([("cuda.json", cuda), ("cpu.json", cpu)])
    m = next(m for m in res["models"] if m.name == "m")
    assert m.targets["cpu/fp32"] == {"failed": "out of memory at batch 1"} and res["merge"]["missing"] == []
    assert res["merge"]["rankings"][0]["models"] == 2  # r50 and vit: timed on both


def test_labels_say_what_differs():
    """device/dtype always; batch, mode, threads and the device's name only where the files
    differ in them; two files of one target are told apart by their paths."""
    from fairness.merge import label_targets

    def target(**kw):
        return {"file": "f", "device": "cuda", "device_name": "NVIDIA H200", "dtype": "bfloat16", "mode": "eager",
                "batch": "256", "threads": 8, **kw}

    targets = [target(), target(batch="1"), target(mode="compiled")]
    label_targets(targets)
    assert [t["label"] for t in targets] == ["cuda/bf16/eager/batch 256", "cuda/bf16/eager/batch 1",
                                             "cuda/bf16/compiled/batch 256"]
    targets = [target(), target(device_name="NVIDIA A100")]
    label_targets(targets)
    assert [t["label"] for t in targets] == ["cuda/bf16/NVIDIA H200", "cuda/bf16/NVIDIA A100"]
    targets = [target(file="a/results.json"), target(file="b/results.json")]
    label_targets(targets)
    assert [t["label"] for t in targets] == ["cuda/bf16 (a/results.json)", "cuda/bf16 (b/results.json)"]


def test_a_latency_swap_in_words():
    """Latency's ratios are speed-ups too: 2x as fast is half the latency."""
    from fairness.merge import mismatch_text

    r = {"indicator": "latency", "targets": ["cuda/bf16", "cpu/fp32"], "tau": -1.0,
         "swap": {"faster": "a", "slower": "b", "ratio_a": 2.0, "ratio_b": 0.25}}
    assert mismatch_text(r) == ("The ranking by latency changes between cuda/bf16 and cpu/fp32: tau -1.00; a is faster "
                                "than b on cuda/bf16 but slower on cpu/fp32 (2x as fast as b at batch 1 on cuda/bf16, "
                                "0.25x on cpu/fp32)")


def test_a_merge_takes_a_user_template_and_is_rendered_again(tmp_path):
    """The merge's page is zoo.html.j2: a user's one in --template-dir is used, by merge and by
    render on the merge's results.json."""
    cuda = _results("cuda", "bfloat16", "NVIDIA H200", {"r50": 3000, "vit": 2000})
    cpu = _results("cpu", "float32", "Intel Xeon", {"r50": 10, "vit": 20})
    for name, res in (("cuda.json", cuda), ("cpu.json", cpu)):
        (tmp_path / name).write_text(json.dumps(res))
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "zoo.html.j2").write_text('{% extends "builtin/zoo.html.j2" %}{% block header %}<h1>LAB {{ kind }}: '
                                     '{{ title }}</h1>{% endblock %}')
    r = run("merge", str(tmp_path / "cuda.json"), str(tmp_path / "cpu.json"), "--out", str(tmp_path / "m"),
            "--template-dir", str(lab))
    assert r.exit_code == 0, r.output
    assert "<h1>LAB merge: merge</h1>" in (tmp_path / "m" / "report.html").read_text()
    r = run("render", str(tmp_path / "m" / "results.json"), "--out", str(tmp_path / "again"))
    assert r.exit_code == 0, r.output
    html = (tmp_path / "again" / "report.html").read_text()
    assert "<h1>fairness merge: merge</h1>" in html and "Where the targets rank the models differently" in html


HOSTILE = {"r50": "<script>alert(1)</script>", "vit": "ResNet-50 [x](javascript:alert(2))"}


def _no_markup(text: str) -> None:
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "<script" not in html and "<a " not in html, html


def test_hostile_model_names_stay_text_in_the_merge_and_zoo_markdown():
    """Model names are the user's strings: in report.md (pasted into OpenReview and GitHub) a name
    shaped like an HTML tag or a link stays text, in the table and in the summary lines (issue 30:
    both went through raw in the zoo's and the merge's Markdown)."""
    from fairness.render.merge import merge_markdown
    from fairness.render.zoo import zoo_markdown
    from fairness.results import load
    from fairness.zoo import reanalysed
    from pathlib import Path

    cuda = _results("cuda", "bfloat16", "NVIDIA H200", {"r50": 3000, "vit": 2000, "d": 1001, "m": 1000}, HOSTILE)
    cpu = _results("cpu", "float32", "Intel Xeon", {"r50": 10, "vit": 20, "d": 4.9, "m": 5}, HOSTILE)
    text = merge_markdown(merge([("cuda.json", cuda), ("cpu.json", cpu)]))
    assert "alert(1)" in text and "javascript" in text  # the names are there, as text
    _no_markup(text)
    zoo = load(str(Path(__file__).parent.parent / "reports" / "imagenet-zoo" / "results.json"))
    renamed = {"ResNet-50": HOSTILE["r50"], "ConvNeXt-T": HOSTILE["vit"]}
    zoo["models"] = [m.with_(name=renamed.get(m.name, m.name)) for m in zoo["models"]]
    zoo["zoo"]["reference"] = renamed.get(zoo["zoo"].get("reference"), zoo["zoo"].get("reference"))
    text = zoo_markdown(reanalysed(zoo))
    assert "alert(1)" in text and "javascript" in text
    _no_markup(text)
