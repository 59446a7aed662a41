"""``--model timm:NAME``: timm's small test architectures with freshly initialised weights that
the tests save (safetensors and .pth) and load back, offline (predictions identical to the
in-memory model's); nothing downloads."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from advtui.cli import main
from advtui.errors import ModelError
from advtui.models import load_model

timm = pytest.importorskip("timm")  # in the test extra; `pip install 'advtui[timm]'`

ARCH = "test_resnet"  # 0.47 M parameters, 160×160, mean/std 0.5, bilinear; layer1…layer4


def _fresh(arch: str, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return timm.create_model(arch, pretrained=False, **kwargs).eval()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The in-memory net and its weights as .safetensors and .pth files."""
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("timm")
    net = _fresh(ARCH)
    save_file(net.state_dict(), str(folder / "w.safetensors"))
    torch.save(net.state_dict(), folder / "w.pth")
    return net, folder


@pytest.fixture(scope="module")
def model(saved):
    net, folder = saved
    return load_model(f"timm:{ARCH}", weights=folder / "w.safetensors", device="cpu")


@pytest.fixture(autouse=True)
def empty_caches(tmp_path, monkeypatch):
    """No test sees the user's Hugging Face or torch hub cache."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


def _expected(net, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net((x - 0.5) / 0.5)  # test_resnet's pretrained_cfg: mean = std = 0.5


def test_both_file_kinds_give_the_in_memory_predictions_and_its_preprocessing(saved, model):
    net, folder = saved
    x = torch.rand(2, 3, 160, 160)
    torch.testing.assert_close(model.logits(x), _expected(net, x), rtol=0, atol=0)
    pth = load_model(f"timm:{ARCH}", weights=folder / "w.pth", device="cpu")
    torch.testing.assert_close(pth.logits(x), _expected(net, x), rtol=0, atol=0)
    assert (model.input_size, model.interpolation) == (160, "bilinear")
    torch.testing.assert_close(model.mean.flatten(), torch.full((3,), 0.5))
    assert model.class_names[0] == "tench" and model.num_classes == 1000
    assert model.seed_layer == "layer1"  # timm's second feature stage


def test_a_vit_takes_its_own_interpolation_and_features(tmp_path):
    net = _fresh("test_vit")
    torch.save(net.state_dict(), tmp_path / "vit.pth")
    vit = load_model("timm:test_vit", weights=tmp_path / "vit.pth", device="cpu")
    assert (vit.input_size, vit.interpolation) == (160, "bicubic")
    x = torch.rand(1, 3, 160, 160)
    logits, feats = vit.logits_and_features(x)
    with torch.no_grad():
        pre = net.forward_head(net.forward_features((x - 0.5) / 0.5), pre_logits=True)
    torch.testing.assert_close(feats, pre, rtol=0, atol=0)
    torch.testing.assert_close(logits, _expected(net, x), rtol=0, atol=0)
    assert vit.get_layer("blocks.1") is vit.backbone.blocks[1]  # timm's module names


def test_penultimate_features_are_forward_head_pre_logits(saved, model):
    net, _ = saved
    x = torch.rand(3, 3, 160, 160)
    logits, feats = model.logits_and_features(x, batch_size=2)
    with torch.no_grad():
        pre = net.forward_head(net.forward_features((x - 0.5) / 0.5), pre_logits=True)
    assert feats is not None and feats.shape == (3, net.num_features) == (3, 96)
    # chunks of 2 against one batch of 3: the kernels' last bits may differ
    torch.testing.assert_close(feats, pre, rtol=0, atol=1e-6)
    torch.testing.assert_close(logits, _expected(net, x), rtol=0, atol=1e-6)
    assert model.final_linear() is model.backbone.get_classifier()  # penultimate_dim reads it


def test_a_file_with_another_head_size_names_classes_by_index(tmp_path):
    net = _fresh(ARCH, num_classes=10)
    torch.save({"state_dict": net.state_dict()}, tmp_path / "ten.pth")
    ten = load_model(f"timm:{ARCH}", weights=tmp_path / "ten.pth", device="cpu")
    assert ten.num_classes == 10 and ten.class_names[:2] == ("class 0", "class 1")
    x = torch.rand(1, 3, 160, 160)
    torch.testing.assert_close(ten.logits(x), _expected(net, x), rtol=0, atol=0)


def _photos(folder, n=3):
    rng = np.random.default_rng(0)
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (120 + 10 * i, 140, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def test_predict_through_the_cli(saved, tmp_path, capsys):
    from advtui.images import load_tensor

    net, folder = saved
    paths = _photos(tmp_path / "photos")
    argv = ["predict", *map(str, paths), "--model", f"timm:{ARCH}"]
    code = main([*argv, "--weights", str(folder / "w.safetensors"), "--json", "--top", "2"])
    assert code == 0, capsys.readouterr().err
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 3
    x = torch.stack([load_tensor(p, 160) for p in paths])
    best = _expected(net, x).argmax(1).tolist()
    assert [r["top2"][0]["index"] for r in rows] == best


def test_attack_and_layer_explanation_through_the_pipeline(model):
    from advtui.explain import make_explainer
    from advtui.pipeline import explain_outcome, run_attack
    from advtui.settings import AttackSettings

    torch.manual_seed(1)
    x = torch.rand(3, 160, 160)
    settings = AttackSettings(method="pgd", eps=8 / 255, steps=2, target="runner-up")
    outcome = run_attack(model, x, settings)
    assert outcome.linf <= 8 / 255 + 1e-6 and outcome.target is not None
    assert outcome.target["index"] == model.topk(x[None], 2)[0][1]["index"]  # the runner-up
    assert outcome.success == (outcome.adv_top5[0]["index"] == outcome.target["index"])
    background = torch.rand(2, 3, 160, 160)
    shap = make_explainer("shap", model, background, layer="layer2", seed=0)
    explain_outcome(shap, outcome, nsamples=2)
    # the input of layer2 is layer1's output: 32 channels at 1/4 of 160
    assert outcome.attributions["clean"].shape == (32, 40, 40)
    assert outcome.maps["adversarial"].shape == (160, 160)
    assert np.abs(outcome.attributions["clean"]).sum() > 0


def test_the_cli_lists_the_family_and_a_timm_models_layers(saved, capsys):
    _, folder = saved
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["timm:NAME"]["input_size"] is None and "timm" in rows["timm:NAME"]["description"]
    assert rows["timm:NAME"]["offline"] is None  # it depends on the model named
    weights = str(folder / "w.pth")
    assert main(["models", "--layers", f"timm:{ARCH}", "--weights", weights]) == 0
    layers = capsys.readouterr().out.split()
    assert {"layer1", "layer2.0.conv1", "fc"} <= set(layers) and "" not in layers


def _cli_error(capsys, *argv: str) -> str:
    code = main(["predict", *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "Traceback" not in err, err
    return err


def test_bad_files_unknown_names_and_missing_weights_are_one_line(saved, tmp_path, capsys):
    _, folder = saved
    photo = str(_photos(tmp_path / "p", 1)[0])
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"this is not a weights file")
    err = _cli_error(capsys, photo, "--model", f"timm:{ARCH}", "--weights", str(junk))
    assert "junk.safetensors: not a PyTorch file: looks like text" in err
    err = _cli_error(capsys, photo, "--model", "timm:test_vit", "--weights", str(folder / "w.pth"))
    assert "w.pth does not fit timm:test_vit" in err
    err = _cli_error(capsys, photo, "--model", "timm:resnt18", "--weights", str(folder / "w.pth"))
    assert "unknown timm model 'resnt18' (did you mean timm:resnet18" in err
    err = _cli_error(capsys, photo, "--model", "timm:resnet18.nosuchtag")
    assert "no pretrained tag 'nosuchtag'" in err and "a1_in1k" in err
    err = _cli_error(capsys, photo, "--model", f"timm:{ARCH}")
    assert "no weights offline" in err and "--weights FILE" in err


def test_weights_already_in_the_hugging_face_cache_load_without_weights_flag(saved, tmp_path):
    """What timm would download, found in the (test's own) cache: loaded, nothing fetched."""
    net, folder = saved
    hub_id = timm.models.get_pretrained_cfg(ARCH).hf_hub_id  # timm/test_resnet.r160_in1k
    repo = tmp_path / "hf" / f"models--{hub_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "model.safetensors").write_bytes((folder / "w.safetensors").read_bytes())
    cached = load_model(f"timm:{ARCH}", device="cpu")
    x = torch.rand(1, 3, 160, 160)
    torch.testing.assert_close(cached.logits(x), _expected(net, x), rtol=0, atol=0)


def test_without_timm_the_family_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # `import timm` fails as if not installed
    monkeypatch.delitem(sys.modules, "advtui.models_timm", raising=False)
    with pytest.raises(ModelError, match=r"timm:NAME needs timm: pip install 'advtui\[timm\]'"):
        load_model(f"timm:{ARCH}", device="cpu")


def test_images_are_loaded_and_cropped_as_timms_own_eval_transform_does(saved, model, tmp_path):
    """crop_pct 0.95: loaded at ⌊160 / 0.95⌋ = 168 px, centre-cropped to 160 inside the model;
    the logits equal timm's create_transform pipeline on the same photo (168 px square, so
    neither pipeline resizes: advtui resizes photos bicubically for every model, timm with
    the model's own interpolation)."""
    from advtui.images import load_tensor

    net, _ = saved
    assert (model.crop_pct, model.load_size) == (0.95, 168)
    rng = np.random.default_rng(1)
    photo = tmp_path / "square.png"
    Image.fromarray(rng.integers(0, 255, (168, 168, 3), dtype=np.uint8)).save(photo)
    transform = timm.data.create_transform(**timm.data.resolve_model_data_config(net))
    with torch.no_grad():
        want = net(transform(Image.open(photo).convert("RGB"))[None])
    x = load_tensor(photo, model.load_size)
    assert tuple(x.shape) == (3, 168, 168)
    torch.testing.assert_close(model.logits(x[None]), want, rtol=1e-5, atol=1e-5)
    uncropped = model.logits(torch.nn.functional.interpolate(x[None], size=160, mode="bilinear"))
    assert not torch.allclose(uncropped, want, atol=1e-3)  # the crop is what made them equal
