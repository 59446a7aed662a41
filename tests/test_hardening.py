"""Issue 13 (items 2–7): hostile names, symlink loops, edge values, outputs checked first.

Each test covers a class of problem with a tiny model where possible; the CLI tests replace
the model loader by one that fails loudly, to prove a check runs before the model loads.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from pathlib import Path

import pytest
import torch

from advtui.cli import main
from advtui.errors import ModelError
from advtui.eval.config import EvalConfig
from advtui.eval.loop import run_eval
from advtui.eval.rowparts import attack_seed
from advtui.explain import background_for_image
from advtui.images import load_image
from advtui.names import safe_name
from tests.conftest import make_tiny_classifier

NON_UTF8 = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 "café.jpg": not valid UTF-8
HOSTILE = "a\x1b]0;PWNED\x07\x1b]52;c;SGVsbG8=\x07\x1b[31mb.jpg"  # title, OSC 52, colour


@pytest.fixture
def no_model(monkeypatch):
    """Loading a model fails loudly: a check that should run first must have stopped it."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the check")

    monkeypatch.setattr("advtui.models.load_model", refuse)


def _folder(tmp_path: Path, sample_paths, names) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for src, name in zip(sample_paths, names, strict=False):
        shutil.copy(src, os.path.join(os.fsencode(folder), os.fsencode(name)))
    return folder


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


# ----------------------------------------------------------------------------- 2. loops


@pytest.fixture
def looped(tmp_path, sample_paths) -> Path:
    """Two photos and two symlinks pointing at each other (a loop), as in the issue."""
    folder = _folder(tmp_path, sample_paths, ["espresso.jpg", "fig.jpg"])
    os.symlink("b.jpg", folder / "a.jpg")
    os.symlink("a.jpg", folder / "b.jpg")
    return folder


def test_a_symlink_loop_is_reported_as_a_loop(looped):
    with pytest.raises(Exception, match="a.jpg: symlink loop"):
        load_image(looped / "a.jpg")


def test_unreadable_neighbours_are_skipped_from_the_shap_background_with_a_note(looped):
    notes: list[str] = []
    bg = background_for_image(looped / "espresso.jpg", 16, note=notes.append)
    # fig.jpg is the one readable neighbour; with fewer than two, black and grey are added
    assert bg.shape == (3, 3, 16, 16)
    assert len(notes) == 1 and "skipped 2 unreadable files" in notes[0]
    assert "a.jpg (symlink loop)" in notes[0] and "b.jpg (symlink loop)" in notes[0]


def test_explain_cli_goes_on_past_a_symlink_loop_with_one_note(looped, capsys):
    code = main(
        ["explain", str(looped / "espresso.jpg"), "--nsamples", "2", "--json", "--device", "cpu"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["evidence"]["label"]
    notes = [line for line in captured.err.splitlines() if line.strip()]
    assert notes == [
        "advtui: note: SHAP background: skipped 2 unreadable files: a.jpg (symlink loop), "
        "b.jpg (symlink loop)"
    ]


def test_eval_goes_on_past_a_symlink_loop(looped, tmp_path):
    notes: list[str] = []
    cfg = EvalConfig(
        folder=str(looped), out=str(tmp_path / "o"), steps=2, nsamples=2, eps=["8/255"], folds=2,
        detectors=["shap-lr"], plots=False,
    )  # fmt: skip
    run = run_eval(cfg, make_tiny_classifier(size=16), note=notes.append)
    rows = {r["image"]: r for r in run.store.rows if r["variant"] == "clean"}
    # the walker leaves the loop out (as the explorer does) and eval says so once
    assert set(rows) == {"espresso.jpg", "fig.jpg"}
    assert rows["espresso.jpg"]["status"] == "ok" and rows["fig.jpg"]["status"] == "ok"
    walk = [n for n in notes if n.startswith("left out 2 unusable entries")]
    assert len(walk) == 1 and "a.jpg: symlink loop" in walk[0] and "b.jpg: symlink loop" in walk[0]
    shap = [n for n in notes if n.startswith("SHAP background")]
    assert len(shap) == 1 and "symlink loop" in shap[0]  # said once, not once per photo


# ----------------------------------------------------------------------------- 3. bytes


def test_seed_of_utf8_names_is_unchanged_and_any_bytes_have_one():
    for seed, image in [(0, "photo.jpg"), (7, "dir/ünïcode.jpg#c80"), (3, "a\nb.png")]:
        assert attack_seed(seed, image) == zlib.crc32(f"{seed}:{image}".encode()) % 40_000
    assert attack_seed(0, NON_UTF8) == zlib.crc32(b"0:caf\xe9.jpg") % 40_000
    assert attack_seed(0, NON_UTF8) == attack_seed(0, os.fsencode(NON_UTF8))


def test_eval_rows_of_non_utf8_names_are_valid_utf8_and_resume(tmp_path, sample_paths):
    folder = _folder(tmp_path, sample_paths, [NON_UTF8, HOSTILE, "plain.jpg"])
    out = tmp_path / "o"
    tiny = make_tiny_classifier(size=16)
    cfg = EvalConfig(
        folder=str(folder), out=str(out), steps=2, nsamples=2, folds=2, detectors=["shap-lr"],
        plots=False,
    )  # fmt: skip
    run_eval(cfg, tiny)
    data = (out / "results.jsonl").read_bytes()
    text = data.decode("utf-8")  # strict: no lone surrogates, no raw undecodable bytes
    assert "\\ud" not in text and "\x1b" not in text and "\\u001b" not in text
    rows = [json.loads(line) for line in text.splitlines()]
    images = {r["image"] for r in rows}
    assert images == {"caf\\xe9.jpg", safe_name(HOSTILE), "plain.jpg"}
    seeds = {r["image"]: r["attack_seed"] for r in rows}
    assert seeds["caf\\xe9.jpg"] == zlib.crc32(b"0:caf\xe9.jpg") % 40_000
    for name in ("run.json", "summary.json"):
        (out / name).read_bytes().decode("utf-8")
    # a resumed run finds every row done: the escaped ids match, nothing is redone
    again = run_eval(EvalConfig(**{**cfg.__dict__, "resume": True}), tiny)
    assert len(again.store.rows) == len(rows)


def test_predict_json_of_a_non_utf8_name_is_valid_utf8(tmp_path, sample_paths, capsysbinary):
    folder = _folder(tmp_path, sample_paths, [NON_UTF8])
    path = os.path.join(str(folder), NON_UTF8)
    assert main(["predict", path, "--json", "--top", "1", "--device", "cpu"]) == 0
    out = capsysbinary.readouterr().out.decode("utf-8")
    assert json.loads(out)["image"].endswith("caf\\xe9.jpg") and "\\ud" not in out


# ----------------------------------------------------------------------------- 4. escapes


def test_cli_tables_and_errors_never_pass_control_characters(tmp_path, sample_paths, capfd):
    folder = _folder(tmp_path, sample_paths, [HOSTILE])
    path = os.path.join(str(folder), HOSTILE)
    assert main(["predict", path, "--top", "1", "--device", "cpu"]) == 0
    assert main(["attack", path + "-missing.jpg"]) == 2  # the error names the file
    captured = capfd.readouterr()
    for stream in (captured.out, captured.err):
        assert "\x1b" not in stream and "\x07" not in stream
    assert "a\\x1b]0;PWNED\\x07" in captured.out.replace("\n", "")  # shown, escaped (wrapped)
    assert "a\\x1b]0;PWNED\\x07" in captured.err


def test_resume_command_quotes_control_characters_for_the_shell():
    from advtui.cli import sub_parser
    from advtui.cli.eval import resume_command

    args = sub_parser().parse_args(["eval", HOSTILE, "--out", "o"])
    command = resume_command(args)
    assert "\x1b" not in command and "\x07" not in command
    assert "$'a\\x1b]0;PWNED\\x07" in command


# ----------------------------------------------------------------------------- 5. ranges

BAD_FLAGS = [
    (["--eps", "2"], "--eps 2: must lie in [0, 1] (pixel units, e.g. 8/255; 0 = no attack)"),
    (["--eps=-1/255"], "--eps -1/255: must lie in [0, 1]"),
    (["--alpha", "0"], "--alpha 0: must lie in (0, 1]"),
    (["--steps", "0"], "--steps 0: must lie in [1, 100000]"),
    (["--steps", "x"], "--steps x: expected a whole number"),
    (["--nsamples", "0"], "--nsamples 0: must lie in [1, 100000]"),
    (["--seed", "-1"], "--seed -1: must lie in [0, 4294967295]"),
    (["--local-smoothing", "-0.5"], "--local-smoothing -0.5: must lie in [0, 1]"),
]


@pytest.mark.parametrize("flag, message", BAD_FLAGS)
def test_one_rule_one_message_for_attack_explain_eval_and_the_explorer(
    flag, message, sample_paths, tmp_path, capsys, no_model
):
    image, folder = str(sample_paths[0]), str(sample_paths[0].parent)
    commands = [
        ["attack", image, "--explain"],
        ["eval", folder, "--out", str(tmp_path / "o")],
        [folder],  # the explorer: refused before it opens
    ]
    if flag[0] in ("--nsamples", "--seed", "--local-smoothing"):
        commands.append(["explain", image])
    for argv in commands:
        assert main([*argv, *flag]) == 2, argv
        assert _one_line(capsys).startswith(f"advtui: error: {message}"), argv


def test_eps_zero_is_no_attack_everywhere(tiny_model, tmp_path, samples_dir):
    from advtui.pipeline import run_attack, save_outcome
    from advtui.settings import AttackSettings

    x = torch.rand(3, 16, 16)
    for method in ("fgsm", "bim", "pgd"):
        settings = AttackSettings.parse(method=method, eps="0", steps=2, target="random")
        outcome = run_attack(tiny_model, x, settings)
        assert torch.equal(outcome.x_adv, outcome.x) and outcome.linf == 0
        assert not outcome.success
    save_outcome(outcome, tmp_path / "o")  # the perturbation picture: no division by zero
    cfg = EvalConfig(folder=str(samples_dir), out=str(tmp_path / "e"), eps=["0", "8/255"])
    assert cfg.precheck().eps == [0.0, 8 / 255]  # eval agrees: 0 is the clean baseline


def test_top_and_batch_size_are_checked_before_the_model(sample_paths, tmp_path, capsys, no_model):
    assert main(["predict", str(sample_paths[0]), "--top", "0"]) == 2
    assert _one_line(capsys) == "advtui: error: --top 0: must lie in [1, 1000]"
    out = str(tmp_path / "o")
    assert main(["eval", str(sample_paths[0].parent), "--out", out, "--batch-size", "0"]) == 2
    assert _one_line(capsys) == "advtui: error: --batch-size 0: must lie in [1, 4096]"


# ----------------------------------------------------------------------------- 6. --out

READ_ONLY = Path("/sys")  # not writable even by root


@pytest.fixture
def read_only() -> Path:
    if not READ_ONLY.is_dir() or os.access(READ_ONLY, os.W_OK) and _writable(READ_ONLY):
        pytest.skip("no read-only folder on this machine")
    return READ_ONLY


def _writable(folder: Path) -> bool:
    try:
        (folder / ".advtui-probe").write_bytes(b"")
    except OSError:
        return False
    (folder / ".advtui-probe").unlink()
    return True


@pytest.mark.parametrize("command", ["attack", "explain", "eval"])
def test_a_read_only_out_fails_before_the_model_naming_the_folder(
    command, read_only, sample_paths, capsys, no_model
):
    target = str(sample_paths[0].parent) if command == "eval" else str(sample_paths[0])
    assert main([command, target, "--out", str(read_only)]) == 2
    line = _one_line(capsys)
    assert line.startswith(f"advtui: error: --out {read_only}: ")
    assert "permission denied" in line and ".tmp" not in line


def test_save_outcome_into_a_read_only_folder_is_one_named_reason(read_only, tiny_model):
    from advtui.errors import OutputError
    from advtui.pipeline import run_attack, save_outcome
    from advtui.settings import AttackSettings

    outcome = run_attack(tiny_model, torch.rand(3, 16, 16), AttackSettings(steps=1))
    with pytest.raises(OutputError) as err:
        save_outcome(outcome, read_only / "sub")
    assert str(err.value).startswith(f"{read_only}/sub: ") and ".tmp" not in str(err.value)


# ----------------------------------------------------------------------------- 7. reasons


@pytest.mark.parametrize(
    "content, looks",
    [
        (b"hello, these are not weights\n", "looks like text"),
        (b"<!DOCTYPE html><html>404</html>", "an HTML page"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:00\n", "a Git LFS pointer"),
        (b"", "an empty file"),
    ],
)
def test_weights_that_are_not_a_pytorch_file_say_what_they_are(tmp_path, content, looks):
    from advtui.models import load_model

    path = tmp_path / "w.pth"
    path.write_bytes(content)
    with pytest.raises(ModelError) as err:
        load_model("resnet50", weights=path, device="cpu")
    assert str(err.value).startswith(f"w.pth: not a PyTorch file: {looks}")
    assert "torch.save(model.state_dict(), PATH)" in str(err.value)


def test_eval_names_sub_folders_not_named_like_synsets(tmp_path, sample_paths):
    from advtui.eval.dataset import EvalError, collect_items

    for name in ("cat", "dog", "fish", "bird"):
        (tmp_path / name).mkdir()
        shutil.copy(sample_paths[0], tmp_path / name / "x.jpg")
    with pytest.raises(EvalError) as err:
        collect_items(tmp_path, [f"class {i}" for i in range(10)])
    message = str(err.value)
    assert "4 sub-folders (bird, cat, dog, …)" in message and "--labels" in message
