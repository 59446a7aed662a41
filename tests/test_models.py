from __future__ import annotations

import pickle
import warnings

import pytest
import torch

from advtui import registry
from advtui.errors import ModelError
from advtui.models import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LITE_MEAN,
    LITE_STD,
    Classifier,
    describe_models,
    imagenet_classes,
    load_model,
    resolve_device,
)
from advtui.registry import MODEL_FAMILIES
from tests.conftest import TinyNet


def test_imagenet_classes_offline():
    names = imagenet_classes()
    assert len(names) == 1000 and names[0] == "tench" and names[386] == "African elephant"


def test_imagenet_classes_equal_torchvision_metadata_and_need_no_torchvision():
    """The bundled list is torchvision's, and reading it does not import torchvision (the
    explorer loads the default model beside its UI thread; that import would stall it)."""
    import subprocess
    import sys

    from torchvision.models import ResNet50_Weights

    assert list(imagenet_classes()) == ResNet50_Weights.IMAGENET1K_V2.meta["categories"]
    code = (
        "import sys; from advtui.models import imagenet_classes; imagenet_classes(); "
        "print('torchvision' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_registry_lists_required_models_with_sizes():
    rows = {r["name"]: r for r in describe_models()}
    assert rows["efficientnet-lite0"]["offline"] is True
    assert rows["inception_v3"]["input_size"] == 299
    for name in ("resnet50", "vgg16", "mobilenet_v3_large", "inception_v3"):
        assert name in rows


def test_model_lists_come_from_the_registry_and_every_spec_has_a_loader(capsys):
    """settings and argparse help read MODEL_FAMILIES; each spec's path names a loader with
    ``load`` and ``weights_file`` (the timm family's needs timm, in the test extra)."""
    from advtui.cli import main
    from advtui.settings import MODEL_NAMES

    single = [n for n, s in MODEL_FAMILIES.items() if not s.prefix]
    assert MODEL_NAMES == tuple(single) and "timm:" in MODEL_FAMILIES
    for spec in MODEL_FAMILIES.values():
        loader = registry.load(spec.path)
        assert callable(loader.load) and callable(loader.weights_file)
    assert main(["predict", "--help"]) == 0
    model_help = " ".join(capsys.readouterr().out.split())
    assert "timm:NAME" in model_help and "inception_v3" in model_help


def test_eval_seed_protocol_layer_comes_from_the_spec_or_the_model(tmp_path):
    """``eval --protocol seed`` explains the spec's seed_layer, or the one a loader set on the
    model (timm's second feature stage); a model with neither needs --layer."""
    from advtui.eval.config import EvalConfig
    from advtui.models import Torchvision, registry_classifier

    spec = MODEL_FAMILIES["resnet50"]
    assert registry.load(spec.path) is Torchvision
    clf = registry_classifier(spec, TinyNet(1000), "resnet50")
    assert clf.seed_layer == "layer1" and clf.input_size == 224
    (tmp_path / "in").mkdir()

    def seed_layer(model):
        cfg = EvalConfig(folder=str(tmp_path / "in"), out=str(tmp_path / "out"), protocol="seed")
        return cfg.resolved(model).layer

    own = Classifier(
        TinyNet(3), name="mine", input_size=8, mean=(0.5,) * 3, std=(0.5,) * 3,
        class_names="abc", seed_layer="conv",
    )  # fmt: skip
    assert seed_layer(own) == "conv"
    inception = Classifier(
        TinyNet(3), name="inception_v3", input_size=8, mean=(0.5,) * 3, std=(0.5,) * 3,
        class_names="abc",
    )  # fmt: skip
    with pytest.raises(ModelError, match="Conv2d_4a_3x3"):  # the spec's layer, not in TinyNet
        seed_layer(inception)


def test_unknown_model_suggests_close_names():
    with pytest.raises(ModelError, match="did you mean resnet50"):
        load_model("resnet5", device="cpu")


def test_missing_torchvision_weights_names_the_file(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(ModelError) as err:
        load_model("resnet50", device="cpu")
    msg = str(err.value)
    assert "resnet50-" in msg and str(tmp_path) in msg and "--weights" in msg


def test_cuda_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ModelError, match="no CUDA GPU"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_weights_file_state_dict_roundtrip(tmp_path):
    import torchvision

    net = torchvision.models.mobilenet_v3_large(weights=None)
    torch.save({"state_dict": net.state_dict()}, tmp_path / "w.pth")
    model = load_model("mobilenet_v3_large", weights=tmp_path / "w.pth", device="cpu")
    x = torch.rand(1, 3, 224, 224)
    net.eval()
    with torch.no_grad():
        expected = net(
            (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
            / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        )
    torch.testing.assert_close(model.logits(x), expected, rtol=1e-4, atol=1e-4)


def test_bad_weights_files(tmp_path):
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelError, match="garbage.pth: not a PyTorch file: looks like text"):
        load_model("resnet50", weights=tmp_path / "garbage.pth", device="cpu")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"w": Evil()}))
    with pytest.raises(ModelError, match="evil.pth") as err:
        load_model("resnet50", weights=tmp_path / "evil.pth", device="cpu")
    # one short line, and never torch's advice to load with weights_only=False
    assert "weights_only" not in str(err.value) and "\n" not in str(err.value)
    assert "never unpickles" in str(err.value)

    torch.save({"fc.weight": torch.zeros(3, 3)}, tmp_path / "wrong.pth")
    with pytest.raises(ModelError, match="does not fit resnet50"):
        load_model("resnet50", weights=tmp_path / "wrong.pth", device="cpu")

    with pytest.raises(ModelError, match="does not exist"):
        load_model("resnet50", weights=tmp_path / "missing.pth", device="cpu")


def test_torchscript_model_with_own_size_and_normalisation(tmp_path):
    torch.manual_seed(0)
    net = TinyNet(1000).eval()
    torch.jit.script(net).save(str(tmp_path / "tiny.pt"))
    model = load_model(
        str(tmp_path / "tiny.pt"), device="cpu", input_size=32, mean=(0.5,) * 3, std=(0.5,) * 3
    )
    assert model.input_size == 32 and model.class_names[0] == "tench"
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(model.logits(x), net((x - 0.5) / 0.5), rtol=1e-5, atol=1e-5)
    with warnings.catch_warnings(record=True) as seen:  # torch's jit deprecation stays quiet
        warnings.simplefilter("always")
        load_model(str(tmp_path / "tiny.pt"), device="cpu", input_size=32)
    assert not [w for w in seen if issubclass(w.category, FutureWarning)]
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ModelError, match="not a TorchScript model") as err:
        load_model(str(tmp_path / "junk.pt"), device="cpu")
    assert "miniz" not in str(err.value) and len(str(err.value)) < 200


def test_classifier_resizes_and_normalises_inside():
    torch.manual_seed(0)
    net = TinyNet(5).eval()
    clf = Classifier(
        net, name="t", input_size=16, mean=(0.2, 0.3, 0.4), std=(0.5, 0.5, 0.5), class_names="abcde"
    )
    x = torch.rand(1, 3, 16, 16)
    expected = net((x - torch.tensor([0.2, 0.3, 0.4]).view(1, 3, 1, 1)) / 0.5)
    torch.testing.assert_close(clf(x), expected)
    assert clf(torch.rand(1, 3, 40, 40)).shape == (1, 5)  # resized to 16×16 inside
    assert clf.class_embeddings().shape == (5, 4)
    with pytest.raises(ModelError, match="no layer named"):
        clf.get_layer("convv")
    assert clf.get_layer("conv") is net.conv


def test_default_model_is_lite_scaled_and_beats_imagenet_stats(real_model, sample_paths):
    """EfficientNet-Lite was trained with (x − 127/255)/(128/255): it must be the default and it
    must classify the samples at least as well as with ImageNet mean/std."""
    from advtui.images import load_tensor

    assert (
        MODEL_FAMILIES["efficientnet-lite0"].mean == LITE_MEAN
        and MODEL_FAMILIES["efficientnet-lite0"].std == LITE_STD
    )
    torch.testing.assert_close(real_model.mean.flatten(), torch.tensor(LITE_MEAN))
    x = torch.stack([load_tensor(p, 224) for p in sample_paths])
    lite_probs = real_model.logits(x).softmax(1)
    imagenet = Classifier(
        real_model.backbone,
        name="x",
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        class_names=real_model.class_names,
    ).eval()
    im_probs = imagenet.logits(x).softmax(1)
    labels = lite_probs.argmax(1)
    # mean confidence in the (correct, see samples/ATTRIBUTION.md) label is higher with Lite scaling
    assert float(lite_probs.gather(1, labels[:, None]).mean()) > float(
        im_probs.gather(1, labels[:, None]).mean()
    )


def test_safetensors_weights_are_read_and_a_truncated_one_is_one_line(tmp_path):
    """--weights takes .safetensors for every model (what the Hugging Face hub ships); a
    cut-off file is refused in one line naming it."""
    from safetensors.torch import save_file

    from advtui.weights import load_weights, read_state_dict

    torch.manual_seed(0)
    net = TinyNet(5)
    save_file({f"module.{k}": v for k, v in net.state_dict().items()}, str(tmp_path / "w.st"))
    state = read_state_dict(tmp_path / "w.st")  # DataParallel's module. prefix dropped
    assert set(state) == set(net.state_dict())
    fresh = TinyNet(5)
    load_weights(fresh, tmp_path / "w.st", "tiny")
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(fresh(x), net(x), rtol=0, atol=0)
    data = (tmp_path / "w.st").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="cut.safetensors: not a readable safetensors file") as e:
        read_state_dict(tmp_path / "cut.safetensors")
    assert "\n" not in str(e.value)
