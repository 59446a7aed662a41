#!/usr/bin/env python
"""Write the markdown tables of the ImageNet study from its runs' summary.json files.

    python scripts/imagenet_tables.py OUT_ROOT [--out tables.md] [--img-dir docs/img]

OUT_ROOT is the folder scripts/imagenet_study.py filled (one sub-folder per run, study.json
with the commands). Every number in the output is read from a summary.json, never typed: each
table names the file it comes from and the command that wrote it (with the photo folder shown
as IMAGENET_SAMPLE and the root as OUT). Runs not made yet are listed as such. With
``--img-dir`` the main runs' histogram.png files are copied there as
``imagenet-histogram-NAME.png`` and linked.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

MAIN = ("main-pgd", "main-bim")
BEGIN, END = "<!-- imagenet-study:begin -->", "<!-- imagenet-study:end -->"


def ci(block: dict | None, pct: bool = False) -> str:
    """``0.87 [0.82, 0.91]`` (``pct``: ``12 % [8 %, 17 %]``), ``–`` without an estimate."""
    if not block or block.get("estimate") is None:
        return "–"

    def f(v: float) -> str:
        return f"{100 * v:.0f} %" if pct else f"{v:.2f}"

    text = f(block["estimate"])
    if block.get("low") is not None and block.get("high") is not None:
        text += f" [{f(block['low'])}, {f(block['high'])}]"
    return text


def pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.0f} %"


def num(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


class Study:
    def __init__(self, root: Path) -> None:
        self.root = root
        path = root / "study.json"
        self.manifest = json.loads(path.read_text()) if path.exists() else {}

    def summary(self, name: str) -> dict | None:
        p = self.root / name / "summary.json"
        return json.loads(p.read_text()) if p.exists() else None

    def source(self, name: str) -> str:
        """``Source: `NAME/summary.json`, written by `…`.`` with placeholders."""
        cmd = (self.manifest.get(name) or {}).get("command")
        folder = (self.manifest.get(name) or {}).get("folder")
        if cmd:
            if folder:
                cmd = cmd.replace(folder, "IMAGENET_SAMPLE")
            cmd = cmd.replace(str(self.root), "OUT")
        text = f"Source: `OUT/{name}/summary.json`"
        return text + (f", written by `{cmd}`." if cmd else ".")


def _missing(name: str) -> list[str]:
    return [f"*{name}: not run yet (no summary.json).*", ""]


def _finished(study: Study, names, notes: list[str]):
    """(name, summary) of each of ``names`` that has finished; a note in ``notes`` for each
    that has not."""
    for name in names:
        s = study.summary(name)
        if s is None:
            notes += _missing(name)
        else:
            yield name, s


def _below(v: dict) -> dict:
    shap = v.get("mean_shap") or {}
    return shap.get("adv_below_clean_interval") or {"estimate": shap.get("adv_below_clean")}


def _resampling(s: dict) -> str:
    b = s.get("bootstrap") or {}
    if not b.get("resamples"):
        return "no bootstrap intervals (--bootstrap 0)"
    return (
        f"[low, high]: 95 % bootstrap interval over photos ({b['resamples']} resamples, seed "
        f"{b.get('seed')}); values pool the out-of-fold scores of every fold"
    )


def main_table(study: Study, names=MAIN) -> list[str]:
    out = [
        "| run | variant | clean/adv | attack ok | detector | accuracy | ROC-AUC | TPR@5%FPR |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes, paper = [], None
    for name, s in _finished(study, names, notes):
        paper = s.get("paper") or paper
        p = s["params"]
        label = f"{name} ({p['model']}, {p['method']} ε={p['primary_eps']}, {p['steps']} steps)"
        first = True
        for variant, v in s["variants"].items():
            for j, (det, d) in enumerate((v.get("detectors") or {}).items()):
                iv = d.get("intervals") or {}
                head = (
                    f"{variant} | {v['n_clean']}/{v['n_adversarial']} | "
                    f"{pct(v.get('attack_success_rate'))}"
                    if j == 0
                    else " | | "
                )
                out.append(
                    f"| {label if first else ''} | {head} | {det} | {ci(iv.get('accuracy'))} | "
                    f"{ci(iv.get('roc_auc'))} | {ci(iv.get('tpr_at_5fpr'))} |"
                )
                first = False
        notes += [study.source(name), ""]
        rs = _resampling(s)
    if paper:
        lab = f"{paper['source']}: {paper['model']}, {paper['attack']}, {paper['data']}"
        for r in paper["rows"]:
            out.append(
                f"| {lab} | {r['variant']} | – | – | {paper['detector']} | "
                f"{r['accuracy']:.4f} | not reported | not reported |"
            )
    if len(out) == 2:
        return notes
    return out + ["", rs, ""] + notes


def histogram_section(study: Study, img_dir: Path | None, docs_root: Path | None) -> list[str]:
    out = [
        "| run | variant | adversarial top class has less mean SHAP than the clean one | "
        "mean SHAP clean | mean SHAP adversarial |",
        "|---|---|---|---|---|",
    ]
    notes = []
    for name, s in _finished(study, MAIN, notes):
        for variant, v in s["variants"].items():
            m = v.get("mean_shap") or {}
            c, a = m.get("clean"), m.get("adversarial")
            out.append(
                f"| {name} | {variant} | {ci(_below(v), pct=True)} | "
                f"{'–' if c is None else f'{c:.2e}'} | {'–' if a is None else f'{a:.2e}'} |"
            )
        png = study.root / name / "histogram.png"
        if img_dir is not None and png.exists():
            img_dir.mkdir(parents=True, exist_ok=True)
            dest = img_dir / f"imagenet-histogram-{name}.png"
            shutil.copyfile(png, dest)
            rel = os.path.relpath(dest, docs_root) if docs_root else dest
            notes.append(f"![mean SHAP of the top class, clean vs adversarial — {name}]({rel})")
            notes.append("")
        notes += [study.source(name), ""]
    return (out + [""] + notes) if len(out) > 2 else notes


def similarity_section(study: Study) -> list[str]:
    out = [
        "| run | target similarity | adversarial rows (photos) | random / nearest | detector | "
        "detected | ROC-AUC | TPR@5%FPR |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for name, s in _finished(study, MAIN, notes):
        block = s.get("target_similarity") or {}
        if block.get("note"):
            notes.append(f"{name}: {block['note']}.")
        for b in block.get("bins") or []:
            modes = " / ".join(str(n) for n in b["by_mode"].values())
            for det, d in b["detectors"].items():
                out.append(
                    f"| {name} | {b['low']:.2f}–{b['high']:.2f} | {b['n_adversarial']} "
                    f"({b['photos']}) | {modes} | {det} | {ci(d.get('detected'))} | "
                    f"{ci(d.get('roc_auc'))} | {ci(d.get('tpr_at_5fpr'))} |"
                )
        notes += [study.source(name), ""]
    caption = (
        "Similarity: cosine of the final-layer weight rows of the target and the clean class, "
        "equal-count bins of the random and nearest targets together; detected: share of the "
        "bin's adversarial rows the detector flags; AUC and TPR: the bin's adversarial rows "
        "against all clean rows (pooled out-of-fold scores)."
    )
    return (out + ["", caption, ""] + notes) if len(out) > 2 else notes


def _pooled_row(label: str, s: dict, block: dict | None = None) -> str:
    v = block if block is not None else s["variants"]["pooled"]
    d = v.get("detectors") or {}

    def m(det: str, key: str) -> str:
        return ci(((d.get(det) or {}).get("intervals") or {}).get(key))

    return (
        f"| {label} | {v['n_clean']}/{v['n_adversarial']} | {pct(v.get('attack_success_rate'))} "
        f"| {ci(_below(v), pct=True)} | {m('shap-lr', 'roc_auc')} | {m('shap-lr', 'tpr_at_5fpr')} "
        f"| {m('confidence', 'roc_auc')} | {m('confidence', 'tpr_at_5fpr')} |"
    )


DEP_HEAD = [
    "| setting | clean/adv | attack ok | adv < clean | shap-lr AUC | shap-lr TPR@5%FPR | "
    "confidence AUC | confidence TPR@5%FPR |",
    "|---|---|---|---|---|---|---|---|",
]


def dependency_sections(study: Study) -> list[str]:
    out: list[str] = []

    def table(title: str, items: list[tuple[str, str]]) -> None:
        rows, notes = [], []
        for name, key in items:
            s = study.summary(name)
            if s is None:
                notes += _missing(name)
                continue
            p = s["params"]
            label = {
                "nsamples": f"nsamples {p['nsamples']}",
                "layer": f"layer {p.get('layer') or 'pixels'}",
                "explainer": f"explainer {p.get('explainer', 'shap')}",
                "early": "early stop" if p.get("early_stop") else "full 10 steps",
            }[key]
            rows.append(_pooled_row(label, s))
            notes.append(study.source(name))
        out.extend([f"#### {title}", ""])
        if rows:
            out.extend([*DEP_HEAD, *rows, ""])
        out.extend([*notes, ""])

    table(
        "SHAP samples",
        [
            ("dep-nsamples-8", "nsamples"),
            ("dep-nsamples-16", "nsamples"),
            ("dep-nsamples-32", "nsamples"),
            ("dep-pixels", "nsamples"),
            ("dep-nsamples-64", "nsamples"),
        ],
    )
    table("Pixels or an intermediate layer", [("dep-pixels", "layer"), ("dep-layer", "layer")])
    table(
        "The explainer",
        [
            ("dep-pixels", "explainer"),
            ("dep-ig", "explainer"),
            ("dep-smoothgrad", "explainer"),
            ("dep-gradcam", "explainer"),
        ],
    )
    table("Early stop", [("dep-pixels", "early"), ("dep-early-stop", "early")])
    s = study.summary("dep-eps")
    out.extend(["#### Attack strength ε", ""])
    if s is None:
        out.extend(_missing("dep-eps"))
    else:
        rows = [_pooled_row(f"ε {eps}", s, block["pooled"]) for eps, block in s["sweep"].items()]
        out.extend([*DEP_HEAD, *rows, "", study.source("dep-eps"), ""])
    return out


def adaptive_section(study: Study) -> list[str]:
    out = [
        "| run | variant | λ | attack ok plain → adaptive | detector | AUC plain → adaptive | "
        "TPR@5%FPR plain → adaptive |",
        "|---|---|---|---|---|---|---|",
    ]
    notes = []
    for name in ("adaptive-w1", "adaptive-w3"):
        s = study.summary(name)
        if s is None or not s.get("adaptive"):
            notes += _missing(name)
            continue
        for mode, e in s["adaptive"].items():
            lam = (e.get("params") or {}).get("adaptive_weight")
            for det in e["before"]:
                b, a = e["before"][det], e["after"].get(det, {})

                def m(d: dict, key: str) -> str:
                    iv = (d.get("intervals") or {}).get(key)
                    return ci(iv) if iv else num(d.get(key))

                out.append(
                    f"| {name} | {mode} | {lam} | {pct(e.get('plain_attack_success_rate'))} → "
                    f"{pct(e.get('attack_success_rate'))} | {det} | {m(b, 'roc_auc')} → "
                    f"{m(a, 'roc_auc')} | {m(b, 'tpr_at_5fpr')} → {m(a, 'tpr_at_5fpr')} |"
                )
            notes.append(f"> {e.get('verdict', '')}")
            notes.append("")
        notes += [study.source(name), ""]
    return (out + [""] + notes) if len(out) > 2 else notes


def transfer_section(study: Study) -> list[str]:
    out = [
        "| run | variant | transfer model | fools it (all attacked) | fools it (successful) |",
        "|---|---|---|---|---|",
    ]
    notes = []
    for name, s in _finished(study, MAIN, notes):
        for variant, v in s["variants"].items():
            t = v.get("transfer")
            if t:
                out.append(
                    f"| {name} | {variant} | {t['model']} | {pct(t['success_rate'])} | "
                    f"{pct(t['success_rate_of_successful'])} |"
                )
        notes += [study.source(name), ""]
    return (out + [""] + notes) if len(out) > 2 else notes


def _auc(s: dict, variant: str, det: str) -> dict | None:
    d = ((s["variants"].get(variant) or {}).get("detectors") or {}).get(det) or {}
    return (d.get("intervals") or {}).get("roc_auc")


def answer(study: Study, names=MAIN) -> list[str]:
    """The study's answer in a few sentences, every number read from a summary.json: per main
    run, the paper's detector against the confidence baseline and the best other detector
    (pooled ROC-AUC), the blog's evidence comparison and the similar-target trend."""
    out: list[str] = []
    for name, s in _finished(study, names, []):
        p, img = s["params"], s.get("images") or {}
        what = (study.manifest.get(name) or {}).get("what", "")
        interim = " (an interim report: the run has not finished)" if "interim" in what else ""
        pooled = s["variants"].get("pooled") or {}
        out.append(
            f"**{name}**{interim}: {img.get('photos', '–')} photos, {p['model']}, "
            f"{p['method'].upper()}-{p['steps']} at ε = {p['primary_eps']}, targets "
            f"{', '.join(p['targets'])} ({pooled.get('n_adversarial', '–')} successful "
            f"adversarial rows against {pooled.get('n_clean', '–')} clean ones)."
        )
        dets = list(pooled.get("detectors") or {})
        aucs = {d: _auc(s, "pooled", d) for d in dets}
        known = {d: a for d, a in aucs.items() if a and a.get("estimate") is not None}
        if "shap-lr" in known:
            line = f"- Pooled ROC-AUC of shap-lr (the paper's detector): {ci(known['shap-lr'])}"
            if "confidence" in known:
                line += f"; of the confidence-only baseline: {ci(known['confidence'])}"
            best = max(known, key=lambda d: known[d]["estimate"])
            if best not in ("shap-lr", "confidence"):
                line += f"; the highest, {best}: {ci(known[best])}"
            out.append(line + ".")
        below = _below(pooled)
        if below.get("estimate") is not None:
            out.append(
                "- The adversarial top class carries less mean SHAP than the clean one (the "
                f"paper's premise) for {ci(below, pct=True)} of the adversarial rows."
            )
        bins = (s.get("target_similarity") or {}).get("bins") or []
        if len(bins) >= 2 and "shap-lr" in bins[0]["detectors"]:
            lo, hi = bins[0], bins[-1]
            out.append(
                f"- shap-lr's ROC-AUC against target similarity (random and nearest targets): "
                f"{ci(lo['detectors']['shap-lr'].get('roc_auc'))} for the least similar "
                f"targets ({lo['low']:.2f}–{lo['high']:.2f}), "
                f"{ci(hi['detectors']['shap-lr'].get('roc_auc'))} for the most similar "
                f"({hi['low']:.2f}–{hi['high']:.2f})."
            )
        out.append("")
    if out:
        out += [
            "[low, high]: 95 % bootstrap intervals over photos. The photos are ImageNet "
            "*training-set* photos, one per class, and one model family was used: see the "
            "caveats below the tables.",
            "",
        ]
    return out


def render(root: Path, img_dir: Path | None = None, docs_root: Path | None = None) -> str:
    study = Study(root)
    parts = [
        "<!-- generated by scripts/imagenet_tables.py from OUT/*/summary.json: do not edit "
        "by hand; rerun it -->",
        "",
        *answer(study),
        "### Main table",
        "",
        *main_table(study),
        "### The blog's figure: mean SHAP of the top class",
        "",
        *histogram_section(study, img_dir, docs_root),
        "### Detection against target similarity",
        "",
        *similarity_section(study),
        "### The seed protocol",
        "",
        *main_table(study, ("seed-protocol",)),
        "### What the detector depends on",
        "",
        *dependency_sections(study),
        "### The adaptive attacker",
        "",
        *adaptive_section(study),
        "### Transfer",
        "",
        *transfer_section(study),
    ]
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", help="the output root of scripts/imagenet_study.py")
    p.add_argument("--out", help="markdown file to write (default: stdout)")
    p.add_argument("--img-dir", help="copy the histograms here (e.g. docs/img)")
    p.add_argument(
        "--insert",
        metavar="FILE",
        help=f"replace the text between {BEGIN} and {END} in FILE (e.g. docs/eval.md)",
    )
    a = p.parse_args(argv)
    root = Path(a.root).expanduser()
    if not root.is_dir():
        raise SystemExit(f"imagenet_tables: {root}: not a folder")
    target = a.out or a.insert
    docs_root = Path(target).resolve().parent if target else None
    text = render(root, Path(a.img_dir) if a.img_dir else None, docs_root)
    if a.insert:
        doc = Path(a.insert)
        old = doc.read_text(encoding="utf-8")
        if old.count(BEGIN) != 1 or old.count(END) != 1 or old.index(BEGIN) > old.index(END):
            raise SystemExit(
                f"imagenet_tables: {doc}: needs one {BEGIN} line and one {END} after it"
            )
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + BEGIN + "\n" + text + END + tail
        a.out = str(doc)
    if a.out:
        tmp = Path(a.out).with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, a.out)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
