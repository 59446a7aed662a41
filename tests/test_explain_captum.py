"""IG, saliency and SmoothGrad (advtui.explain.captum), the factory and ``--explainer``.

Tiny random CNN (exact tensors); the CLI and eval run it through ``main`` with the model
loader monkeypatched, as tests/test_experiment.py does.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients, NoiseTunnel, Saliency

from advtui import registry
from advtui.cli import main
from advtui.errors import Cancelled, ExplainError
from advtui.explain import ExplainerProtocol, Explanation, make_explainer
from advtui.explain.captum import IG, SmoothGrad, blur
from advtui.explain.evidence import Evidence
from tests.conftest import make_tiny_classifier

EVIDENCE_FIELDS = set(Evidence.__dataclass_fields__)


@pytest.fixture(scope="module")
def tiny():
    return make_tiny_classifier(num_classes=10, size=16)


@pytest.fixture(scope="module")
def images():
    return torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(3))


# ----------------------------------------------------------------------------- IG


@pytest.mark.parametrize("baseline", ["black", "blur"])
def test_ig_equals_captum_integrated_gradients_called_directly(tiny, images, baseline):
    """Same model, baseline and steps: our chunked IG (3 steps per batch, 7 steps) gives
    captum's own result for both images and their classes."""
    classes = [1, 7]
    got = IG(tiny, baseline=baseline, batch_size=3).explain(images, classes, nsamples=7)
    base = torch.zeros_like(images) if baseline == "black" else blur(images)
    want = IntegratedGradients(tiny).attribute(images, baselines=base, target=classes, n_steps=7)
    assert got.attributions.shape == (2, 3, 16, 16)
    np.testing.assert_allclose(got.attributions, want.detach().numpy(), rtol=1e-5, atol=1e-9)
    assert np.abs(got.attributions).max() > 1e-4  # not trivially zero


def test_ig_explains_the_logit_completeness(tiny, images):
    """IG's attributions sum to logit(x) − logit(baseline) of the explained class (the
    completeness axiom), so it explains the logit, as SHAP does."""
    got = IG(tiny, batch_size=50).explain(images, [4, 4], nsamples=300)
    with torch.no_grad():
        diff = tiny(images)[:, 4] - tiny(torch.zeros_like(images))[:, 4]
    sums = got.attributions.reshape(2, -1).sum(1)
    np.testing.assert_allclose(sums, diff.numpy(), rtol=2e-3, atol=1e-5)
    assert [e.logit for e in got.evidence] == pytest.approx(tiny(images)[:, 4].tolist())


def test_blur_baseline_is_a_smoothed_image_of_the_same_mean(images):
    b = blur(images)
    assert b.shape == images.shape
    assert b.std() < images.std() / 2  # smoothed
    assert float(b.mean()) == pytest.approx(float(images.mean()), abs=0.02)


def test_ig_progress_counts_chunks_and_stop_cancels(tiny, images):
    seen = []
    IG(tiny, batch_size=4).explain(images, nsamples=10, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(i, 6) for i in range(1, 7)]  # 3 batches of steps per image
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled, match="IG cancelled"):
        IG(tiny, batch_size=4).explain(images, nsamples=10, stop=stop)


def test_ig_stop_between_chunks(tiny, images):
    stop = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        if done == 2:
            stop.set()

    with pytest.raises(Cancelled):
        IG(tiny, batch_size=4).explain(images, nsamples=10, progress=progress, stop=stop)
    assert seen == [1, 2]


# ----------------------------------------------------------------------------- saliency


def test_saliency_is_the_signed_gradient_of_the_logit(tiny, images):
    got = make_explainer("saliency", tiny).explain(images, [2, 5], nsamples=50)
    x = images.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(tiny(x)[[0, 1], [2, 5]].sum(), x)
    np.testing.assert_allclose(got.attributions, grad.numpy(), rtol=1e-5, atol=1e-9)
    assert got.evidence[0].neg_sum < 0 < got.evidence[0].pos_sum  # signed, not |∇|


# ----------------------------------------------------------------------------- SmoothGrad


def test_smoothgrad_is_seeded_and_leaves_the_global_generator_alone(tiny, images):
    torch.manual_seed(123)
    expect_next = torch.rand(3)
    torch.manual_seed(123)
    a = SmoothGrad(tiny, seed=5, batch_size=4).explain(images, [1, 1], nsamples=10)
    after = torch.rand(3)
    b = SmoothGrad(tiny, seed=5, batch_size=4).explain(images, [1, 1], nsamples=10)
    c = SmoothGrad(tiny, seed=6, batch_size=4).explain(images, [1, 1], nsamples=10)
    np.testing.assert_array_equal(a.attributions, b.attributions)
    assert np.abs(a.attributions - c.attributions).max() > 1e-6
    assert torch.equal(after, expect_next)  # fork_rng restored torch's generator


def test_smoothgrad_is_noise_tunnel_over_saliency(tiny, images):
    """One chunk: the same as captum's NoiseTunnel(Saliency) after seeding torch the same way."""
    from advtui.explain.shap import chunk_seed

    x = images[:1]
    got = SmoothGrad(tiny, seed=9, noise_std=0.2, batch_size=8).explain(x, [3], nsamples=6)
    torch.manual_seed(chunk_seed(9, 0))
    want = NoiseTunnel(Saliency(tiny)).attribute(
        x.clone().requires_grad_(True),
        nt_type="smoothgrad",
        nt_samples=6,
        nt_samples_batch_size=6,
        stdevs=0.2,
        target=3,
        abs=False,
    )
    np.testing.assert_allclose(got.attributions, want.detach().numpy(), rtol=1e-5, atol=1e-9)


# ----------------------------------------------------------------------------- the factory


@pytest.mark.parametrize("name", list(registry.EXPLAINERS))
def test_every_registered_explainer_gives_maps_and_the_same_evidence(tiny, images, name):
    calls = []

    def background():
        calls.append(1)
        return torch.rand(3, 3, 16, 16)

    explainer = make_explainer(name, tiny, background, seed=1, batch_size=4)
    assert isinstance(explainer, ExplainerProtocol)
    expl = explainer.explain(images, nsamples=6)
    assert isinstance(expl, Explanation) and expl.method == name
    # per pixel and channel, or one channel per pixel (Grad-CAM's upsampled map)
    assert expl.attributions.shape in {(2, 3, 16, 16), (2, 1, 16, 16)}
    assert np.isfinite(expl.attributions).all()
    assert expl.pixel_maps(16).shape == (2, 16, 16)
    top = tiny(images).argmax(1).tolist()
    assert expl.classes == top == [e.class_index for e in expl.evidence]
    assert all(set(e.to_dict()) == EVIDENCE_FIELDS for e in expl.evidence)
    assert len(calls) == (1 if registry.EXPLAINERS[name].background else 0)


@pytest.mark.parametrize("name", list(registry.EXPLAINERS))
def test_the_gradient_batch_never_changes_an_explainers_map(tiny, images, name):
    """The batch is a speed and memory setting (CPU 10, a GPU 64, the explorer's 4): a seed
    gives the same map at any batch, to float rounding (the draws do not follow the batch)."""
    bg = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    maps = [
        make_explainer(name, tiny, bg, seed=4, batch_size=b).explain(images, nsamples=23)
        for b in (1, 3, 10, 64)
    ]
    scale = np.abs(maps[0].attributions).max()
    for other in maps[1:]:
        np.testing.assert_allclose(
            other.attributions, maps[0].attributions, rtol=1e-5, atol=1e-5 * scale
        )


def test_factory_refuses_another_explainers_flag_and_drops_it_when_lenient(tiny):
    with pytest.raises(ExplainError, match="--baseline applies to IG only, not SHAP"):
        make_explainer("shap", tiny, torch.rand(2, 3, 16, 16), baseline="blur")
    with pytest.raises(ExplainError, match="--layer applies to SHAP, Grad-CAM only, not IG"):
        make_explainer("ig", tiny, None, layer="conv")
    with pytest.raises(ExplainError, match="unknown explainer parameter"):
        make_explainer("ig", tiny, None, steps=3)
    # defaults of other explainers' flags are fine (every caller passes all of them)
    ig = make_explainer("ig", tiny, None, layer=None, local_smoothing=0.0, noise_std=0.15)
    assert ig.baseline == "black"
    lenient = make_explainer("ig", tiny, None, strict=False, layer="conv", baseline="blur")
    assert lenient.baseline == "blur" and lenient.layer is None


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def cli_tiny(monkeypatch, tiny):
    loads = []

    def load(args):
        loads.append(args)
        return tiny

    monkeypatch.setattr("advtui.cli.common.load_model_from_args", load)
    return loads


def _explain_json(image: Path, capsys, *extra: str) -> dict:
    assert main(["explain", str(image), "--json", "--nsamples", "8", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_explain_ig_json_reports_the_same_evidence_fields_as_shap(
    cli_tiny, sample_paths, tmp_path, capsys
):
    shap = _explain_json(sample_paths[0], capsys)
    ig = _explain_json(sample_paths[0], capsys, "--explainer", "ig", "--out", str(tmp_path))
    assert shap["explainer"] == "shap" and ig["explainer"] == "ig"
    assert set(ig) == set(shap)
    assert set(ig["evidence"]) == set(shap["evidence"]) == EVIDENCE_FIELDS
    for k in ("class_index", "label", "logit", "prob"):  # same class, same model
        assert ig["evidence"][k] == shap["evidence"][k]
    assert ig["evidence"]["pos_sum"] != shap["evidence"]["pos_sum"]  # another method
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["explanation.json", "ig.png", "ig_overlay.png", "image.png"]


def test_attack_explain_with_smoothgrad_names_the_files_and_the_result(
    cli_tiny, sample_paths, tmp_path, capsys
):
    argv = ["attack", str(sample_paths[0]), "--eps", "32/255", "--steps", "2", "--explain"]
    argv += ["--explainer", "smoothgrad", "--nsamples", "4", "--json", "--out", str(tmp_path)]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["explainer"] == "smoothgrad"
    assert set(result["evidence"]["clean"]) == EVIDENCE_FIELDS
    names = {p.name for p in tmp_path.iterdir()}
    assert {"smoothgrad_clean.png", "smoothgrad_adversarial.png", "result.json"} <= names
    assert not {n for n in names if n.startswith("shap_")}
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["explainer"] == "smoothgrad"


def test_a_flag_of_another_explainer_is_refused_before_the_model_loads(
    cli_tiny, sample_paths, capsys
):
    assert main(["explain", str(sample_paths[0]), "--baseline", "blur"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--baseline applies to IG only" in err
    assert "Traceback" not in err
    argv = ["attack", str(sample_paths[0]), "--explain", "--explainer", "ig", "--layer", "x"]
    assert main(argv) == 2
    assert "--layer applies to SHAP, Grad-CAM only" in capsys.readouterr().err
    argv = ["explain", str(sample_paths[0]), "--explainer", "smoothgrad", "--noise-std", "0"]
    assert main(argv) == 2
    assert "--noise-std must be in [0.001, 1] (got 0)" in capsys.readouterr().err
    assert cli_tiny == []  # refused before loading the model


def test_explainer_choices_come_from_the_registry(capsys):
    assert main(["explain", "x.jpg", "--explainer", "lime"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'lime'" in err
    for name in registry.EXPLAINERS:
        assert name in err


# ----------------------------------------------------------------------------- eval


def test_eval_with_ig_writes_the_same_files_as_with_shap(cli_tiny, samples_dir, tmp_path, capsys):
    base = [str(samples_dir), "--n", "2", "--views", "2", "--eps", "32/255", "--steps", "2"]
    base += ["--nsamples", "3", "--method", "bim", "--folds", "2", "--detectors", "shap-lr"]
    assert main(["eval", *base, "--out", str(tmp_path / "shap")]) == 0
    assert main(["eval", *base, "--out", str(tmp_path / "ig"), "--explainer", "ig"]) == 0
    capsys.readouterr()
    files = {d: sorted(p.name for p in (tmp_path / d).iterdir()) for d in ("shap", "ig")}
    assert files["ig"] == files["shap"]
    assert {"results.jsonl", "summary.json", "run.json", "detector.json"} <= set(files["ig"])
    shap_sum = json.loads((tmp_path / "shap" / "summary.json").read_text())
    ig_sum = json.loads((tmp_path / "ig" / "summary.json").read_text())
    assert shap_sum["params"]["explainer"] == "shap" and ig_sum["params"]["explainer"] == "ig"
    run = json.loads((tmp_path / "ig" / "run.json").read_text())
    assert run["fixed"]["explainer"] == "ig" and run["fixed"]["baseline"] == "black"
    rows = [json.loads(line) for line in (tmp_path / "ig" / "results.jsonl").open()]
    ok = [r for r in rows if r.get("status") == "ok"]
    assert ok and all(set(r["evidence"]) == EVIDENCE_FIELDS for r in ok)
    feats = np.load(tmp_path / "ig" / "features.npz")
    assert feats["features"].shape[0] == len(ok) and np.isfinite(feats["features"]).all()
    assert np.ptp(feats["features"], axis=1).min() > 0  # real sorted attributions, not zeros

    # resume refuses another explainer, naming the flag that restores the stored one
    again = ["eval", *base, "--out", str(tmp_path / "ig"), "--resume"]
    assert main(again) == 2
    err = capsys.readouterr().err
    assert "explainer 'ig'" in err and "--explainer ig" in err
    assert main([*again, "--explainer", "ig"]) == 0


def test_eval_seed_protocol_refuses_another_explainer(cli_tiny, samples_dir, tmp_path, capsys):
    argv = ["eval", str(samples_dir), "--out", str(tmp_path), "--protocol", "seed"]
    assert main([*argv, "--explainer", "saliency"]) == 2
    assert "--protocol seed explains a layer input with SHAP" in capsys.readouterr().err
    assert cli_tiny == []
