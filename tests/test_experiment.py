"""`advtui eval`: the loop, the resumable store, the two protocols, the outputs, bad input.

Most tests run a tiny random CNN on 16×16 versions of the samples (fast, deterministic); one
runs the real default model through the CLI on two photos.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from advtui.attacks import make_attack
from advtui.attacks.seed_bim import SeedBIM
from advtui.cli import main
from advtui.detect.saved import load_detector
from advtui.errors import AdvtuiError, Cancelled, LabelError
from advtui.eval.config import EvalConfig
from advtui.eval.dataset import EvalError, collect_items, read_labels
from advtui.eval.loop import run_eval
from advtui.eval.store import StoreError
from advtui.registry import DEFAULT_DETECTORS
from tests.conftest import make_tiny_classifier

EPS = "32/255"


#: The detectors of most runs here: the random forest adds 100-tree fits to every CV fold
#: (about 1 s a run) and the tests that are about detectors ask for all of them.
FEW_DETECTORS = ["shap-lr", "confidence"]


def _cfg(samples_dir, out, **kw) -> EvalConfig:
    """A small run: 3 photos × 2 views of the tiny model, two detectors, no plots."""
    base = dict(
        folder=str(samples_dir),
        out=str(out),
        n=3,
        views=2,
        targets=["untargeted", "runner-up"],
        eps=[EPS],
        steps=3,
        nsamples=4,
        batch_size=4,
        detectors=FEW_DETECTORS,
        plots=False,
    )
    return EvalConfig(**(base | kw))


def _rows(out: Path) -> list[dict]:
    text = (out / "results.jsonl").read_text()
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _key(r):
    return (r["image"], r["variant"], r["eps_255"])


@pytest.fixture(scope="module")
def tiny():
    return make_tiny_classifier(num_classes=10, size=16)


@pytest.fixture(scope="module")
def reference(tiny, samples_dir, tmp_path_factory):
    """One complete, uninterrupted run (BIM: deterministic whatever the batch)."""
    out = tmp_path_factory.mktemp("ref")
    cfg = _cfg(samples_dir, out, method="bim", detectors=DEFAULT_DETECTORS, plots=True)
    run = run_eval(cfg, tiny)
    return out, run


# ----------------------------------------------------------------------------- end to end


def test_end_to_end_writes_every_file_with_sane_values(reference, tiny):
    out, run = reference
    for name in ("results.jsonl", "features.npz", "summary.json", "detector.json", "run.json"):
        assert (out / name).stat().st_size > 0, name
    for name in ("histogram.png", "roc.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    rows = _rows(out)
    assert len(rows) == 3 * 2 * 3  # photos × views × (clean + 2 modes)
    assert len({_key(r) for r in rows}) == len(rows)
    by_photo: dict[str, set] = {}
    for r in rows:
        by_photo.setdefault(r["group"], set()).add(r["view"])
    assert by_photo and all(v == {"full", "c80"} for v in by_photo.values())
    assert all(r["status"] in ("ok", "attack-failed") for r in rows)
    clean = [r for r in rows if r["variant"] == "clean"]
    adv = [r for r in rows if r["variant"] != "clean"]
    assert len(clean) == 3 * 2 and len(adv) == 3 * 2 * 2
    for r in clean:
        assert r["eps_255"] is None and r["f"] is not None
        assert r["pred"] == r["label"] == r["evidence"]["class_index"]
    for r in adv:
        assert r["eps_255"] == EPS and isinstance(r["success"], bool)
        assert 0 < r["linf"] <= 32 / 255 + 1e-6
        assert (r["f"] is not None) == r["success"] == (r["status"] == "ok")
    # a successful runner-up attack reaches its target
    assert all(
        r["pred"] == r["target"] for r in adv if r["variant"] == "runner-up" and r["success"]
    )
    explained = [r for r in rows if r["f"] is not None]
    assert len(explained) >= len(clean)
    for r in explained:
        assert 0 <= r["confidence"] <= 1 and r["evidence"]["label"] == tiny.label(r["pred"])

    z = np.load(out / "features.npz")
    with_f = [r for r in rows if r["f"] is not None]
    assert z["features"].shape == (len(with_f), 512) and z["features"].dtype == np.float32
    assert list(z["image"]) == [r["image"] for r in with_f]
    assert list(z["variant"]) == [r["variant"] for r in with_f]
    assert list(z["adversarial"]) == [r["variant"] != "clean" for r in with_f]
    assert (np.diff(z["features"], axis=1) >= 0).all()  # sorted attribution quantiles
    np.testing.assert_allclose(z["mean_shap"], [r["evidence"]["mean_shap"] for r in with_f])

    s = json.loads((out / "summary.json").read_text())
    assert s["params"]["model"] == "tiny" and s["params"]["protocol"] == "corrected"
    assert s["params"]["method"] == "bim" and s["params"]["nsamples"] == 4
    assert set(s["variants"]) == {"untargeted", "runner-up", "pooled"}
    for name, v in s["variants"].items():
        attempted = [
            r
            for r in rows
            if r["variant"] in (("untargeted", "runner-up") if name == "pooled" else (name,))
        ]
        assert v["n"] == len(attempted)
        assert v["attack_success_rate"] == pytest.approx(np.mean([r["success"] for r in attempted]))
        assert v["n_clean"] == 6 and v["n_adversarial"] == sum(r["success"] for r in attempted)
        for k in ("lr", "rf", "confidence_baseline"):
            assert {"accuracy", "roc_auc"} <= set(v[k])
            acc = v[k]["accuracy"]
            assert acc is None or 0 <= acc <= 1
    assert s["sweep"][EPS] == s["variants"]

    det = load_detector(out)
    assert det.params["protocol"] == "corrected" and det.params["attribution_shape"] == [3, 16, 16]
    p = det.score(np.random.default_rng(0).normal(size=(3, 16, 16)))
    assert 0.0 <= p <= 1.0


# ----------------------------------------------------------------------------- resume


def _interrupt_after(k: int, exc: BaseException):
    seen = []

    def progress(done, total, what):
        if what in ("starting", "resumed"):
            return
        seen.append(done)
        if len(seen) >= k:
            raise exc

    return progress


def test_interrupted_run_resumes_without_duplicates_or_losses(
    reference, tiny, samples_dir, tmp_path
):
    ref_out, _ = reference
    cfg = _cfg(samples_dir, tmp_path, method="bim")
    with pytest.raises(KeyboardInterrupt):
        run_eval(cfg, tiny, progress=_interrupt_after(7, KeyboardInterrupt()))
    rows = _rows(tmp_path)
    assert len(rows) == 7
    z = np.load(tmp_path / "features.npz")  # consistent with the rows even after ^C
    assert len(z["features"]) == sum(r["f"] is not None for r in rows)

    # a kill mid-write: a partial row and a feature vector no row points at
    with open(tmp_path / "results.jsonl", "ab") as fh:
        fh.write(b'{"image": "camera_tripod.jpg#c80", "vari')
    with open(tmp_path / "features.bin", "ab") as fh:
        fh.write(np.ones(512, "<f4").tobytes())

    run = run_eval(EvalConfig(**(cfg.__dict__ | {"resume": True})), tiny)
    assert run.dropped_partial
    rows, ref = _rows(tmp_path), _rows(ref_out)
    assert len(rows) == len(ref) == len({_key(r) for r in rows})
    assert {_key(r) for r in rows} == {_key(r) for r in ref}
    assert (tmp_path / "features.bin").stat().st_size == 4 * 512 * sum(
        r["f"] is not None for r in rows
    )
    feats, ref_feats = np.load(tmp_path / "features.npz"), np.load(ref_out / "features.npz")
    order = {k: i for i, k in enumerate(zip(ref_feats["image"], ref_feats["variant"], strict=True))}
    idx = [order[k] for k in zip(feats["image"], feats["variant"], strict=True)]
    np.testing.assert_allclose(feats["features"], ref_feats["features"][idx], rtol=1e-4, atol=1e-7)
    # resuming a finished run adds nothing
    run_eval(EvalConfig(**(cfg.__dict__ | {"resume": True})), tiny)
    assert len(_rows(tmp_path)) == len(ref)


def test_stop_event_cancels_and_leaves_a_resumable_store(tiny, samples_dir, tmp_path):
    stop = threading.Event()

    def progress(done, total, what):
        if done >= 3:
            stop.set()

    cfg = _cfg(samples_dir, tmp_path, n=2, views=1)
    with pytest.raises(Cancelled):
        run_eval(cfg, tiny, progress=progress, stop=stop)
    n = len(_rows(tmp_path))
    assert 3 <= n < 6
    run_eval(EvalConfig(**(cfg.__dict__ | {"resume": True})), tiny)
    rows = _rows(tmp_path)
    assert len(rows) == 6 == len({_key(r) for r in rows})


def test_existing_results_need_resume_and_the_same_parameters(reference, tiny, samples_dir):
    out, _ = reference
    with pytest.raises(EvalError, match="--resume"):
        run_eval(_cfg(samples_dir, out, method="bim"), tiny)
    with pytest.raises(StoreError) as err:  # every mismatch at once, with the flags to pass
        run_eval(_cfg(samples_dir, out, method="pgd", nsamples=5, steps=4, resume=True), tiny)
    msg = str(err.value)
    assert "\n" not in msg
    assert "method 'bim' (now 'pgd')" in msg and "nsamples 4 (now 5)" in msg
    assert msg.endswith("pass --method bim --nsamples 4 --steps 3, or use another --out")


def test_mismatch_message_names_flags_to_pass_and_drop():
    from advtui.eval.store import mismatch_message

    msg = mismatch_message(
        [
            ("alpha", 2 / 255, None),
            ("early_stop", True, False),
            ("labels", "my labels.csv", None),
            ("layer", None, "_blocks.3"),
            ("local_smoothing", 0.2, 0.0),
            ("method", "bim-seed", "pgd"),
            ("protocol", "seed", "corrected"),
        ]
    )
    assert msg.endswith(
        "pass --alpha 2/255 --early-stop --labels 'my labels.csv' --local-smoothing 0.2 "
        "--protocol seed and drop --layer, or use another --out"
    )


# ----------------------------------------------------------------------------- seed protocol


def test_seed_bim_reperturbs_the_clean_image_with_the_accumulated_gradient():
    model = make_tiny_classifier(num_classes=10, size=16)
    x = torch.randint(30, 226, (2, 3, 16, 16)).float() / 255  # on the grid, away from 0 and 1
    eps = 8 / 255
    labels = model(x).argmax(1)

    def grad(z):
        z = z.clone().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(model(z), labels, reduction="sum")
        return torch.autograd.grad(loss, z)[0]

    g1 = grad(x)
    x1 = (x + eps * g1.sign()).clamp(0, 1)
    g2 = grad(x1)
    expected = (x + eps * (g1 + g2).sign()).clamp(0, 1)  # from the CLEAN image, summed gradients

    res = SeedBIM(model, eps=eps, steps=2)(x)
    torch.testing.assert_close(res.x_adv, torch.round(expected * 255) / 255, atol=1e-6, rtol=0)
    delta = (res.x_adv - x).abs()
    assert torch.all(
        ((delta - eps).abs() < 1e-5) | (delta < 1e-6)
    )  # every step moves by the full ε
    bim = make_attack("bim", model, eps=eps, steps=2)(x)
    assert not torch.equal(bim.x_adv, res.x_adv)  # the engine's BIM takes α steps instead


def test_seed_protocol_defaults_and_refusals(tiny, samples_dir, tmp_path):
    lite = SimpleNamespace(name="efficientnet-lite0", get_layer=lambda name: object())
    c = EvalConfig(folder=str(samples_dir), out=str(tmp_path), protocol="seed").resolved(lite)
    assert (c.method, c.layer, c.nsamples, c.local_smoothing) == ("bim-seed", "_blocks.3", 200, 0.2)
    c = EvalConfig(
        folder=str(samples_dir), out=str(tmp_path), protocol="seed", nsamples=7
    ).resolved(lite)
    assert c.nsamples == 7
    c = EvalConfig(folder=str(samples_dir), out=str(tmp_path)).resolved(lite)
    assert (c.method, c.layer, c.nsamples, c.local_smoothing) == ("pgd", None, 50, 0.0)
    with pytest.raises(EvalError, match="BIM"):
        EvalConfig(
            folder=str(samples_dir), out=str(tmp_path), protocol="seed", method="pgd"
        ).resolved(lite)
    with pytest.raises(EvalError, match="--layer"):
        EvalConfig(folder=str(samples_dir), out=str(tmp_path), protocol="seed").resolved(tiny)


def test_seed_protocol_run_changes_attack_explainer_and_split(tiny, samples_dir, tmp_path):
    cfg = _cfg(
        samples_dir, tmp_path, protocol="seed", layer="pool", views=3, n=4, targets=["untargeted"]
    )
    run = run_eval(cfg, tiny)
    s = run.summary
    assert s["params"]["method"] == "bim-seed" and s["params"]["layer"] == "pool"
    assert s["params"]["local_smoothing"] == 0.2
    v = s["variants"]["untargeted"]
    ok_images = {
        r["image"] for r in run.store.rows if r["variant"] == "untargeted" and r["success"]
    }
    assert v["n_clean"] == len(ok_images)  # negatives: only the clean twins of successful attacks
    for k in ("lr", "rf", "confidence_baseline"):
        assert v[k].get("scheme", "index-90/10") == "index-90/10"
    det = load_detector(tmp_path)
    assert det.params["protocol"] == "seed" and det.params["attribution_shape"] == [4, 16, 16]


# ----------------------------------------------------------------------------- labels


def test_labels_keep_only_correctly_classified_images(tiny, samples_dir, tmp_path):
    from advtui.eval.dataset import view_image
    from advtui.images import find_images, load_image, to_tensor

    paths = find_images(samples_dir)[:3]
    preds = [
        int(tiny(to_tensor(view_image(load_image(p), "full", 16))[None]).argmax()) for p in paths
    ]
    labels = tmp_path / "labels.csv"
    wrong = (preds[1] + 1) % 10
    labels.write_text(
        f"filename,class\n{paths[0].name},{preds[0]}\n{paths[1].name},class {wrong}\n{paths[2].name},{preds[2]}\n"
    )
    run = run_eval(
        _cfg(samples_dir, tmp_path / "out", labels=str(labels), views=1, targets=["untargeted"]),
        tiny,
    )
    rows = run.store.rows
    bad = [r for r in rows if r["image"] == paths[1].name]
    assert len(bad) == 1 and bad[0]["status"] == "misclassified" and bad[0]["label"] == wrong
    assert run.summary["images"] == {
        "evaluated": 2,
        "misclassified": 1,
        "unreadable": 0,
        "photos": 2,
    }
    assert all(r["label_source"] == "labels" for r in rows)


def test_read_labels_csv_and_json(tmp_path):
    names = ["tench", "goldfish", "great white shark"]
    (tmp_path / "l.json").write_text(json.dumps({"a.jpg": "goldfish", "b.jpg": 2}))
    assert read_labels(tmp_path / "l.json", names).entries == {"a.jpg": 1, "b.jpg": 2}
    (tmp_path / "l.csv").write_text("a.jpg,0\n# comment\nsub,tench\n")
    assert read_labels(tmp_path / "l.csv", names).entries == {"a.jpg": 0, "sub": 0}
    (tmp_path / "bad.csv").write_text("a.jpg,zebra-unicorn\n")
    with pytest.raises(LabelError, match="bad.csv"):
        read_labels(tmp_path / "bad.csv", names)


def test_a_subset_of_imagenet_folders_is_labelled_other_models_need_all(tmp_path, samples_dir):
    """Two of the 1,000 ImageNet class folders map to their classes through the shipped
    WordNet ids; for a model of other classes only the full tree maps (sorted order)."""
    import shutil

    for wnid in ("n01440764", "n01443537"):
        (tmp_path / wnid).mkdir()
        shutil.copy(next(samples_dir.glob("*.jpg")), tmp_path / wnid / "x.jpg")
    items = collect_items(tmp_path, [f"c{i}" for i in range(1000)])
    assert [(i.image, i.label, i.label_source) for i in items] == [
        ("n01440764/x.jpg", 0, "folder"),
        ("n01443537/x.jpg", 1, "folder"),
    ]
    with pytest.raises(EvalError, match="--labels"):
        collect_items(tmp_path, [f"c{i}" for i in range(10)])
    items = collect_items(tmp_path, [f"c{i}" for i in range(2)])  # all class folders present
    assert [(i.image, i.label, i.label_source) for i in items] == [
        ("n01440764/x.jpg", 0, "folder"),
        ("n01443537/x.jpg", 1, "folder"),
    ]


# ----------------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--targets", "sideways"], "--targets"),
        (["--protocol", "seed", "--method", "pgd"], "BIM"),
        (["--views", "9"], "--views"),
        (["--n", "0"], "--n"),
        (["--eps", "abc"], "eps"),
        (["--labels", "/nonexistent/labels.csv"], "--labels"),
        (["--folds", "1"], "--folds"),
    ],
)
def test_cli_bad_flags_are_one_line_errors(samples_dir, tmp_path, capsys, extra, needle):
    code = main(["eval", str(samples_dir), "--out", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_missing_folder_and_existing_out(tmp_path, capsys, reference):
    assert main(["eval", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "no such folder" in capsys.readouterr().err
    out, _ = reference
    assert main(["eval", str(tmp_path), "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_eval_real_model_two_photos(samples_dir, tmp_path, capsys):
    out = tmp_path / "ev"
    code = main(
        [
            "eval",
            str(samples_dir),
            "--out",
            str(out),
            "--n",
            "2",
            "--nsamples",
            "4",
            "--steps",
            "2",
            "--targets",
            "untargeted",
            "--device",
            "cpu",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "advtui eval — efficientnet-lite0 pgd ε=8/255" in captured.out
    assert "mean SHAP of the top class" in captured.out
    s = json.loads((out / "summary.json").read_text())
    v = s["variants"]["untargeted"]
    assert v["n"] == 2 and v["attack_success_rate"] == 1.0  # PGD 8/255 fools the real model
    rows = _rows(out)
    assert sorted(r["variant"] for r in rows) == ["clean", "clean", "untargeted", "untargeted"]
    assert all(r["linf"] <= 8 / 255 + 1e-6 for r in rows if r["variant"] != "clean")
    assert load_detector(out).params["attribution_shape"] == [3, 224, 224]


def test_errors_are_advtui_errors():
    assert issubclass(EvalError, AdvtuiError) and issubclass(StoreError, AdvtuiError)


def _cli_explainer(model, image: Path, seed: int, nsamples: int, background=None):
    """The explainer `advtui attack IMG --explain` / `advtui explain IMG` build."""
    from advtui.cli.common import _explainer

    args = SimpleNamespace(
        nsamples=nsamples, background=background, layer=None, local_smoothing=0.0, seed=seed
    )
    return _explainer(model, args, image)


@pytest.mark.parametrize("own_background", [False, True])
def test_shap_background_is_the_one_attack_and_explain_use(
    tiny, samples_dir, tmp_path, own_background
):
    """Per photo: background_from_folder over --background or the photo's folder, up to 8
    images, the photo left out — the same tensor the CLI (and the explorer) explain against."""
    import shutil

    from advtui.eval.rowparts import Explainers, attack_seed
    from advtui.images import find_images

    paths = find_images(samples_dir)
    bg_dir = None
    if own_background:
        bg_dir = tmp_path / "bg"
        bg_dir.mkdir()
        for p in paths[:3]:
            shutil.copy(p, bg_dir / p.name)
    cfg = _cfg(samples_dir, tmp_path / "o", background=bg_dir and str(bg_dir)).resolved(tiny)
    exps = Explainers(tiny, cfg)
    items = collect_items(samples_dir, tiny.class_names, views=2)
    for it in items[:6]:
        mine = exps.explainer(it)
        cli = _cli_explainer(tiny, it.path, attack_seed(cfg.seed, it.image), 4, bg_dir)
        assert torch.equal(mine.background, cli.background), it.image
        assert mine.seed == cli.seed == attack_seed(0, it.image)
        assert len(mine.background) == (3 if own_background else 8)


def test_eval_rows_are_reproduced_by_attack_with_their_seed(tiny, samples_dir, tmp_path):
    """docs/eval.md "Reproduce a row": `advtui attack SOURCE --seed ATTACK_SEED --method M
    --eps E --steps S --target MODE --explain --nsamples N` gives the row's adversarial
    prediction, target and evidence, and the clean row's evidence (here through the same
    functions: run_attack, the CLI's explainer, explain_outcome)."""
    from advtui.images import load_image, resize_center_crop, to_tensor
    from advtui.pipeline import explain_outcome, run_attack
    from advtui.settings import AttackSettings

    cfg = _cfg(samples_dir, tmp_path, method="pgd", targets=["untargeted", "random"], views=2)
    rows = run_eval(cfg, tiny).store.rows
    assert all(isinstance(r["attack_seed"], int) for r in rows)
    clean = {r["image"]: r for r in rows if r["variant"] == "clean"}
    adv = [r for r in rows if r["variant"] != "clean" and r["view"] == "full"]
    assert len(adv) == 6 and sum(r["success"] for r in adv) >= 3
    assert len({r["attack_seed"] for r in adv}) == 3  # one per image, shared by its rows
    for r in adv:
        assert r["attack_seed"] == clean[r["image"]]["attack_seed"]
        settings = AttackSettings.parse(
            method="pgd", eps=r["eps_255"], steps=3, target=r["variant"], seed=r["attack_seed"]
        )
        x = to_tensor(resize_center_crop(load_image(r["source"]), tiny.input_size))
        out = run_attack(tiny, x, settings)
        assert out.adv_top5[0]["index"] == r["pred"], r["image"]
        assert out.success == r["success"]
        assert (out.target or {}).get("index") == r["target"]
        assert out.linf == pytest.approx(r["linf"], abs=1e-6)
        explainer = _cli_explainer(tiny, Path(r["source"]), r["attack_seed"], cfg.nsamples)
        explain_outcome(explainer, out, nsamples=cfg.nsamples)
        pairs = [(out.evidence["clean"], clean[r["image"]]["evidence"])]
        if r["success"]:
            pairs.append((out.evidence["adversarial"], r["evidence"]))
        for ev, want in pairs:
            got = ev.to_dict()
            for k in ("mean_shap", "pos_sum", "neg_sum"):
                assert got[k] == pytest.approx(want[k], rel=1e-4, abs=1e-9), (r["image"], k)


def test_eps_sweep_reports_each_strength(tiny, samples_dir, tmp_path):
    cfg = _cfg(samples_dir, tmp_path, n=2, views=2, targets=["untargeted"], eps=["2/255", EPS])
    s = run_eval(cfg, tiny).summary
    assert list(s["sweep"]) == ["2/255", EPS]
    assert s["variants"] == s["sweep"][EPS]  # the main table is the strongest ε by default
    assert s["params"]["eps"] == ["2/255", EPS] and s["params"]["primary_eps"] == EPS
    weak, strong = (s["sweep"][e]["untargeted"] for e in ("2/255", EPS))
    assert weak["n"] == strong["n"] == 4
    assert weak["attack_success_rate"] <= strong["attack_success_rate"]
    rows = [r for r in _rows(tmp_path) if r["variant"] == "untargeted"]
    assert sorted({r["eps_255"] for r in rows}) == sorted(["2/255", EPS])
    assert all(r["linf"] <= r["eps"] + 1e-6 for r in rows)


@pytest.mark.parametrize(
    "argv, eps, primary",
    [
        ([], ["8/255"], "8/255"),
        (["--eps-sweep", "1/255,2/255"], ["1/255", "2/255"], None),
        (
            ["--eps-sweep", "1/255,4/255,8/255", "--eps", "4/255"],
            ["1/255", "4/255", "8/255"],
            "4/255",
        ),
    ],
)
def test_cli_eps_sweep_flags(argv, eps, primary):
    from advtui.cli import eval as cli_eval
    from advtui.cli import sub_parser

    args = sub_parser().parse_args(["eval", "samples", "--out", "o", *argv])
    cfg = cli_eval.config_from_args(args)
    assert list(cfg.eps) == eps and cfg.primary_eps == primary
    assert cfg.method is None and cfg.nsamples is None  # the protocol decides


def test_eval_modules_never_import_textual_and_detect_is_light():
    import subprocess
    import sys

    code = (
        "import advtui.detect, advtui.eval.loop, advtui.eval.dataset, advtui.eval.store, advtui.eval.report, "
        "advtui.eval.plots, advtui.cli.eval; import sys; print(' '.join(sys.modules))"
    )
    mods = set(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "torch" in mods and not any(m == "textual" or m.startswith("textual.") for m in mods)
    code = "import advtui.detect, advtui.cli.eval; import sys; print(' '.join(sys.modules))"
    mods = set(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert not {"torch", "sklearn", "shap", "textual"} & mods  # the TUI can load a detector cheaply


def test_progress_lines_in_a_log():
    import io

    from advtui.cli.eval_display import Progress

    buf = io.StringIO()
    p = Progress(buf)
    p(0, 3, "starting")
    p(1, 3, "a.jpg clean")  # within 30 s of the last line: not printed in a log
    p(3, 3, "a.jpg untargeted")
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2 and "0/3 rows" in lines[0] and "3/3 rows" in lines[1]
    assert "ETA 00:00:00" in lines[1] and "\r" not in buf.getvalue()


# ----------------------------------------------------------------------------- too few photos


def _cv_inputs(n_photos: int, views: int = 2):
    """Rows, labels and grouped-CV result for ``n_photos`` photos, each clean + adversarial."""
    from advtui.detect.cv import cross_validate

    rows, y = [], []
    for p in range(n_photos):
        for v in range(views):
            for adv in (0, 1):
                rows.append({"group": f"p{p}.jpg", "image": f"p{p}.jpg#{v}"})
                y.append(adv)
    y = np.asarray(y)
    X = np.random.default_rng(0).normal(size=(len(y), 4)) + y[:, None]
    return rows, y, cross_validate(X, y, [r["group"] for r in rows], folds=5)


@pytest.mark.parametrize(
    "photos, needles",
    [
        (10, None),  # 2 photos per class in each of 5 test folds: enough
        (9, ["9 photos for 5-fold CV", "1–2 of them per test fold (fewer than 2)"]),
        (3, ["3-fold CV instead of 5-fold", "1 of them per test fold"]),
        (1, ["1 photo: too few to cross-validate", "no accuracy or AUC"]),
    ],
)
def test_data_warning_thresholds(photos, needles):
    from advtui.eval.report import _data_warning

    rows, y, res = _cv_inputs(photos)
    w = _data_warning(rows, y, res, SimpleNamespace(protocol="corrected", folds=5))
    assert (w is None) == (needles is None)
    assert all(n in (w or "") for n in needles or []) and "\n" not in (w or "")


def test_too_few_photos_warn_on_stderr_and_in_summary(
    tiny, samples_dir, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr("advtui.cli.common.load_model_from_args", lambda args: tiny)
    out = tmp_path / "few"
    argv = ["eval", str(samples_dir), "--out", str(out), "--n", "3", "--views", "2"]
    argv += ["--eps", EPS, "--steps", "3", "--nsamples", "2", "--no-plots"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    s = json.loads((out / "summary.json").read_text())
    assert "Traceback" not in err and s["warnings"]
    lines = [line for line in err.splitlines() if "warning:" in line]
    assert lines == [f"advtui eval: warning: {w}" for w in s["warnings"]]
    assert "3 photos for 5-fold CV: 3-fold CV instead of 5-fold" in lines[0]
    assert "(untargeted, pooled)" in lines[0]
    assert s["variants"]["untargeted"]["warning"] in lines[0]

    # one photo: no CV at all, said in one line, exit 0
    out1 = tmp_path / "one"
    assert main(["eval", str(samples_dir), "--out", str(out1), "--n", "1", *argv[8:]]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if "warning:" in line] == [
        "advtui eval: warning: 1 photo: too few to cross-validate (need at least 2 photos with "
        "clean rows and 2 with a successful attack); no accuracy or AUC (untargeted, pooled)"
    ]
    assert (
        json.loads((out1 / "summary.json").read_text())["variants"]["pooled"]["lr"]["accuracy"]
        is None
    )


def test_enough_photos_give_no_warning(tiny, samples_dir, tmp_path):
    cfg = _cfg(samples_dir, tmp_path, n=4, views=1, targets=["untargeted"], folds=2, steps=10)
    run = run_eval(cfg, tiny)
    assert all(r["success"] for r in run.store.rows if r["variant"] == "untargeted")
    assert run.summary["warnings"] == []
    assert json.loads((tmp_path / "summary.json").read_text())["warnings"] == []


# ----------------------------------------------------------------------------- ETA


class _FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_eta_counts_only_rows_timed_in_this_run():
    import io

    from advtui.cli.eval_display import Progress

    clock, buf = _FakeClock(), io.StringIO()
    p = Progress(buf, clock=clock)
    p(100, 200, "resumed")  # 100 rows loaded from the previous run
    assert p.eta(100, 200, clock()) is None and "ETA --:--" in buf.getvalue()
    clock.t += 10
    assert p.eta(100, 200, clock()) is None  # time passed, no row yet: no rate
    clock.t += 10
    p(101, 200, "a.jpg clean")  # one row in 20 s: 99 rows left → 1980 s
    assert p.eta(101, 200, clock()) == pytest.approx(1980.0)
    clock.t += 20
    p(102, 200, "a.jpg untargeted")
    assert p.eta(102, 200, clock()) == pytest.approx(98 * 20.0)
    p(200, 200, "done")
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("eval [") and "100/200 rows  ETA --:--" in lines[0]
    assert "200/200 rows  ETA 00:00:00" in lines[-1]


def test_eta_beyond_a_day_is_not_wrapped():
    import io

    from advtui.cli.eval_display import Progress

    clock, buf = _FakeClock(), io.StringIO()
    p = Progress(buf, clock=clock)
    p(0, 10_000, "starting")
    clock.t += 100
    p(1, 10_000, "a.jpg clean")  # 9999 rows × 100 s = 277 h 45 min
    clock.t += 100  # a line every 30 s in a log
    p(2, 10_000, "a.jpg untargeted")
    assert buf.getvalue().splitlines()[-1].split("ETA ")[1].startswith("277:43:20")


# ----------------------------------------------------------------------------- PGD resume


def test_pgd_rows_after_resume_equal_an_uninterrupted_run(tiny, samples_dir, tmp_path):
    """The interrupted batch is re-attacked without the images it finished: each PGD random
    start must depend on the image alone, not on its place in the batch."""
    cfg = _cfg(samples_dir, tmp_path / "ref", method="pgd", targets=["untargeted", "random"])
    ref = {_key(r): r for r in run_eval(cfg, tiny).store.rows}

    cfg = EvalConfig(**(cfg.__dict__ | {"out": str(tmp_path / "cut")}))
    with pytest.raises(KeyboardInterrupt):  # 4 clean rows, then 2 of the batch's 4 attacks
        run_eval(cfg, tiny, progress=_interrupt_after(6, KeyboardInterrupt()))
    assert [r["variant"] for r in _rows(tmp_path / "cut")] == ["clean"] * 4 + ["untargeted"] * 2
    rows = run_eval(EvalConfig(**(cfg.__dict__ | {"resume": True})), tiny).store.rows
    assert {_key(r) for r in rows} == set(ref)
    adv = [r for r in rows if r["variant"] != "clean"]
    assert len(adv) == 12
    for r in adv:
        want = ref[_key(r)]
        for k in ("pred", "target", "success", "steps_run", "status", "rounding_undid"):
            assert r[k] == want[k], (k, _key(r))
        for k in ("linf", "confidence", "logit"):
            assert r[k] == pytest.approx(want[k], rel=1e-5, abs=1e-7), (k, _key(r))
        assert ("evidence" in r) == ("evidence" in want) == r["success"]
    explained = [r for r in adv if r["success"]]
    assert all(
        r["evidence"]["mean_shap"]
        == pytest.approx(ref[_key(r)]["evidence"]["mean_shap"], rel=1e-4, abs=1e-9)
        for r in explained
    )


def test_pgd_runs_are_not_resumed_across_random_start_schemes(tiny, samples_dir, tmp_path):
    cfg = _cfg(samples_dir, tmp_path, method="pgd", n=1, views=1, targets=["untargeted"])
    run_eval(cfg, tiny)
    run_json = tmp_path / "run.json"
    params = json.loads(run_json.read_text())
    assert params["fixed"]["random_start"] == "per-image"
    del params["fixed"]["random_start"]  # a run from before per-image starts
    run_json.write_text(json.dumps(params))
    with pytest.raises(StoreError, match="random start"):
        run_eval(EvalConfig(**(cfg.__dict__ | {"resume": True})), tiny)


def test_runs_with_the_old_background_pool_are_not_resumed(tiny, samples_dir, tmp_path):
    """Runs stored when eval drew SHAP backgrounds from a pool of the evaluated photos (and
    seeded SHAP with --seed) have other rows: resuming them fails with one line."""
    cfg = _cfg(samples_dir, tmp_path, method="bim", n=1, views=1, targets=["untargeted"])
    run_eval(cfg, tiny)
    run_json = tmp_path / "run.json"
    params = json.loads(run_json.read_text())
    assert params["fixed"]["background_policy"] == "as-attack-explain"
    assert params["fixed"]["shap_seed"] == "attack_seed"
    params["fixed"]["background_policy"] = "leave-photo-out"  # as stored before 26 Nov 2026
    del params["fixed"]["shap_seed"]
    run_json.write_text(json.dumps(params))
    with pytest.raises(StoreError) as err:
        run_eval(EvalConfig(**(cfg.__dict__ | {"resume": True})), tiny)
    msg = str(err.value)
    assert "\n" not in msg and "SHAP background" in msg and "SHAP seed" in msg
    assert "another advtui version" in msg and msg.endswith("use another --out")


def test_clean_rows_share_their_fields_whatever_the_status(tiny, samples_dir, tmp_path):
    from advtui.eval.dataset import view_image
    from advtui.images import find_images, load_image, to_tensor

    paths = find_images(samples_dir)[:2]
    preds = [
        int(tiny(to_tensor(view_image(load_image(p), "full", 16))[None]).argmax()) for p in paths
    ]
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({paths[0].name: preds[0], paths[1].name: (preds[1] + 1) % 10}))
    cfg = _cfg(samples_dir, tmp_path / "o", labels=str(labels), n=2, views=1)
    rows = run_eval(EvalConfig(**(cfg.__dict__ | {"targets": ["untargeted"]})), tiny).store.rows
    ok, bad = (next(r for r in rows if r["status"] == s) for s in ("ok", "misclassified"))
    assert ok["variant"] == bad["variant"] == "clean"
    # what explaining adds: the evidence and the detector inputs beside SHAP
    assert set(ok) - {"evidence", "squeeze", "squeeze_parts"} == set(bad)
    assert (bad["eps"], bad["eps_255"], bad["f"], bad["label"]) == (
        None,
        None,
        None,
        (preds[1] + 1) % 10,
    )


# ----------------------------------------------------------------------------- CLI: ^C, docs


class _Tty(__import__("io").StringIO):
    def isatty(self):
        return True


def test_ctrl_c_prints_the_whole_resume_command_on_its_own_line(
    tiny, samples_dir, tmp_path, monkeypatch
):
    import shlex
    import sys

    import advtui.cli
    import advtui.eval.loop
    from advtui.cli import sub_parser

    labels = tmp_path / "my labels.csv"
    labels.write_text("x.jpg,0\n")
    argv = [
        "eval",
        str(samples_dir),
        "--out",
        str(tmp_path / "my out"),
        "--nsamples",
        "8",
        "--steps",
        "5",
        "--targets",
        "untargeted,random",
        "--eps-sweep",
        "2/255,8/255",
        "--labels",
        str(labels),
        "--mean",
        "0.5,0.5,0.5",
        "--views",
        "2",
        "--early-stop",
        "--no-plots",
        "--device",
        "cpu",
    ]

    def interrupted(cfg, model, progress=None, **kw):
        progress(0, 10, "starting")
        progress(1, 10, "djembe_drum.jpg clean")
        raise KeyboardInterrupt

    monkeypatch.setattr(advtui.cli.common, "load_model_from_args", lambda args: tiny)
    monkeypatch.setattr(advtui.eval.loop, "run_eval", interrupted)
    err = _Tty()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(argv) == 130
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err.getvalue())  # what the terminal shows
    assert "djembe_drum.jpg clean" in text
    line = next(ln for ln in text.splitlines() if "continue with:" in ln)
    assert line.startswith("stored rows are kept; continue with: advtui eval ")
    assert "…" not in line
    words = shlex.split(line.split("continue with: ", 1)[1])
    assert words[:2] == ["advtui", "eval"] and words[-1] == "--resume"

    def parsed(a):
        return {k: v for k, v in vars(sub_parser().parse_args(a)).items() if k != "eval_parser"}

    assert parsed(words[1:]) == parsed(argv) | {"resume": True}


def test_progress_line_is_ended_before_other_output():
    from advtui.cli.eval_display import Progress

    err = _Tty()
    p = Progress(err, clock=lambda: 0.0)
    p(1, 4, "a.jpg clean")
    assert not err.getvalue().endswith("\n")
    p.end_line()
    p.end_line()  # once only
    assert err.getvalue().endswith("\n") and err.getvalue().count("\n") == 1


def test_docs_list_every_eval_flag():
    from advtui.cli import sub_parser

    docs = (Path(__file__).resolve().parent.parent / "docs" / "eval.md").read_text()
    parser = sub_parser().parse_args(["eval", "x", "--out", "y"]).eval_parser
    flags = [max(a.option_strings, key=len) for a in parser.options if a.option_strings]
    missing = [f for f in flags if f != "--help" and not re.search(rf"`[^`]*{f}(?![\w-])", docs)]
    assert not missing


def test_detectors_are_compared_on_the_same_rows_and_stored_for_resume(reference, tiny):
    out, run = reference
    rows = [r for r in _rows(out) if r["f"] is not None]
    assert all(r["squeeze"] == max(r["squeeze_parts"]) >= 0 for r in rows)
    z = np.load(out / "features.npz")
    np.testing.assert_allclose(z["squeeze"], [r["squeeze"] for r in rows])
    assert z["penultimate"].shape == (len(rows), tiny.final_linear().in_features)
    s = json.loads((out / "summary.json").read_text())
    for v in s["variants"].values():
        dets = v["detectors"]
        assert list(dets) == ["shap-lr", "shap-rf", "confidence", "squeeze", "mahalanobis"]
        # the SHAP-LR of the benchmark is the table's LR: the same folds, the same fits
        assert dets["shap-lr"]["roc_auc"] == pytest.approx(v["lr"]["roc_auc"])
        assert dets["confidence"]["accuracy"] == pytest.approx(v["confidence_baseline"]["accuracy"])
        for d in dets.values():
            assert d["tpr_at_5fpr"] is None or 0 <= d["tpr_at_5fpr"] <= 1


def test_runs_without_detector_inputs_cannot_be_resumed(tiny, samples_dir, tmp_path):
    cfg = _cfg(samples_dir, tmp_path / "o", n=1, views=1, targets=["untargeted"])
    run_eval(cfg, tiny)
    run_json = tmp_path / "o" / "run.json"
    params = json.loads(run_json.read_text())
    del params["fixed"]["row_extras"]  # as a run stored before the squeezing/penultimate rows
    run_json.write_text(json.dumps(params))
    with pytest.raises(StoreError, match="another advtui version.*per-row detector inputs"):
        run_eval(EvalConfig(**(cfg.__dict__ | {"resume": True})), tiny)


def test_adaptive_rows_are_their_own_resumable_variant(tiny, samples_dir, tmp_path):
    cfg = _cfg(
        samples_dir, tmp_path / "a", n=4, views=1, targets=["untargeted"], adaptive=True, folds=2
    )
    run = run_eval(cfg, tiny)
    rows = run.store.rows
    clean = {r["image"] for r in rows if r["variant"] == "clean"}
    adaptive = [r for r in rows if r["variant"] == "untargeted+adaptive"]
    assert {r["image"] for r in adaptive} == clean and len(adaptive) == len(clean)
    for r in adaptive:
        assert r["eps_255"] == EPS and 0 < r["linf"] <= 32 / 255 + 1e-6
        assert r["fold"] in (0, 1) and len(r["detector_logit_trace"]) == r["steps_run"]
        assert (r["f"] is not None) == r["success"]
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    e = s["adaptive"]["untargeted"]
    assert e["n"] == len(adaptive)
    assert e["attack_success_rate"] == pytest.approx(np.mean([r["success"] for r in adaptive]))
    assert set(e["before"]) == set(e["after"]) == set(cfg.detectors)
    assert e["verdict"].startswith("untargeted: ")
    # the plain detector and the summary's variants ignore the adaptive rows
    assert set(s["variants"]) == {"untargeted", "pooled"}
    z = np.load(tmp_path / "a" / "features.npz")
    assert sum(v == "untargeted+adaptive" for v in z["variant"]) == sum(
        r["f"] is not None for r in adaptive
    )
    # the adaptive attacks count in the progress: all rows, plain and adaptive, done
    from advtui.eval.progress import read_progress

    snap = read_progress(tmp_path / "a")
    assert snap["rows"] == {"done": len(rows), "total": len(rows)}
    again = run_eval(EvalConfig(**(cfg.__dict__ | {"resume": True})), tiny).store.rows
    assert len(again) == len(rows)  # nothing recomputed


def test_transfer_rows_record_what_another_model_says(tiny, samples_dir, tmp_path):
    other = make_tiny_classifier(num_classes=10, size=16, seed=3)
    cfg = _cfg(samples_dir, tmp_path / "t", n=2, views=1, transfer_to="tiny-other")
    run = run_eval(cfg, tiny, transfer_model=other)
    adv = [r for r in run.store.rows if r["variant"] != "clean"]
    assert adv
    from advtui.eval.dataset import view_image
    from advtui.images import load_image, to_tensor

    for r in adv:
        x = to_tensor(view_image(load_image(r["source"]), r["view"], 16))[None]
        assert r["transfer_clean_pred"] == int(other.logits(x).argmax())
        want = (
            r["transfer_pred"] == r["target"]
            if r["variant"] == "runner-up"
            else r["transfer_pred"] != r["transfer_clean_pred"]
        )
        assert r["transfer_success"] == want
    for name in ("untargeted", "runner-up"):
        v = run.summary["variants"][name]
        rows = [r for r in adv if r["variant"] == name]
        assert v["transfer"]["success_rate"] == pytest.approx(
            np.mean([r["transfer_success"] for r in rows])
        )


def test_adaptive_rows_can_be_added_to_a_finished_plain_run_with_resume(
    tiny, samples_dir, tmp_path
):
    """The way to combine --engine ray with --adaptive: the plain rows first (on any
    engine), then ``--resume --adaptive`` adds only the adaptive rows, in-process."""
    plain = _cfg(samples_dir, tmp_path / "a", n=4, views=1, targets=["untargeted"], folds=2)
    first = [dict(r) for r in run_eval(plain, tiny).store.rows]
    assert not any(r["variant"].endswith("+adaptive") for r in first)
    more = EvalConfig(**(plain.__dict__ | {"resume": True, "adaptive": True}))
    rows = run_eval(more, tiny).store.rows
    assert rows[: len(first)] == first  # the plain rows are kept, not recomputed
    added = [r["variant"] for r in rows[len(first) :]]
    assert added == ["untargeted+adaptive"] * 4
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert set(summary["adaptive"]) == {"untargeted"}


def test_adaptive_skips_the_photos_this_run_found_misclassified(tiny, samples_dir, tmp_path):
    """With --labels, a photo the model gets wrong has no adversarial rows, plain or adaptive,
    whether the adaptive pass runs in the same run or is added later with --resume."""
    from advtui.images import load_tensor

    paths = sorted(samples_dir.glob("*.jpg"))[:4]
    preds = [int(tiny.logits(load_tensor(p, tiny.input_size)[None]).argmax()) for p in paths]
    labels = tmp_path / "labels.csv"
    wrong = {paths[1].name, paths[3].name}  # labelled with a class the model does not say
    lines = [
        f"{p.name},{(c + 1) % 10 if p.name in wrong else c}\n"
        for p, c in zip(paths, preds, strict=True)
    ]
    labels.write_text("".join(lines))
    kw = dict(n=4, views=1, targets=["untargeted"], folds=2, labels=str(labels))
    one = run_eval(_cfg(samples_dir, tmp_path / "one", adaptive=True, **kw), tiny).store.rows
    status = {r["image"]: r["status"] for r in one if r["variant"] == "clean"}
    assert {i for i, s in status.items() if s == "misclassified"} == wrong
    adaptive = {r["image"] for r in one if r["variant"].endswith("+adaptive")}
    assert adaptive == set(status) - wrong
    plain = _cfg(samples_dir, tmp_path / "two", **kw)
    run_eval(plain, tiny)
    two = run_eval(EvalConfig(**(plain.__dict__ | {"resume": True, "adaptive": True})), tiny)
    assert {r["image"] for r in two.store.rows if r["variant"].endswith("+adaptive")} == adaptive
