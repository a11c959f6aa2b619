"""Write the numbered notebooks from the cell sources below, with no outputs.

The notebooks are generated so that the committed ``.ipynb`` files never hold outputs: outputs of
these notebooks would contain sentences of the research-only corpus, and they would make every
re-run a noisy diff. Edit the cells here, then run::

    python notebooks/build_notebooks.py          # rewrite notebooks/*.ipynb
    python notebooks/build_notebooks.py --check  # fail if a notebook differs from this file

``tests/test_notebooks.py`` runs the check and executes every notebook.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

# Every notebook starts with this cell. Charts render with Jupyter's inline backend (PNG
# outputs drawn by Agg), which is also what the tests use.
SETUP = """\
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import proplens
from proplens import explore

pd.set_option("display.max_colwidth", 120)
plt.rcParams["figure.dpi"] = 90"""

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {}

# ------------------------------------------------------------------------------------------------
NOTEBOOKS["01-explore-corpus"] = [
    (
        "md",
        """\
# 01 · What is in the training corpus?

**Question:** how are the 14 SemEval-2020 rhetorical devices spread over the sentences and
articles that proplens learns from, and which devices travel together?

We read the SemEval-2020 Task 11 training articles (each article once: `dedupe=True` drops the
repeated "…9" copies) into the **sentence table** of `docs/architecture.md`: one row per sentence,
with the devices whose annotated span overlaps it. The corpus is research-only third-party text,
read from `proplens.config.data_dir()` (set `PROPLENS_DATA`); it is never copied into the repo.""",
    ),
    ("code", SETUP),
    (
        "code",
        """\
from proplens.corpus import read_semeval2020

corpus = read_semeval2020(dedupe=True)
table = corpus.sentence_table()
devices = [d.name for d in proplens.load_taxonomy().devices if d.origin == "semeval2020"]
flagged = table["devices"].map(bool)
print(
    f"{len(corpus)} articles, {len(table)} sentences, "
    f"{flagged.mean():.1%} of sentences carry at least one device"
)
table.drop(columns="text").head()""",
    ),
    (
        "md",
        "## How often does each device occur?\n\nCounted in sentences (a sentence with two "
        "devices counts once for each).",
    ),
    (
        "code",
        """\
counts = explore.device_counts(table, devices)
ax = explore.plot_bars(
    counts, title="Sentences per device (SemEval-2020 train)",
    xlabel="sentences carrying the device", ylabel="device",
)
plt.show()
counts.to_frame().assign(share=lambda f: f["sentences"] / len(table))""",
    ),
    (
        "md",
        "The classes are very unbalanced: Loaded_Language alone carries almost a third of all "
        "device labels, while seven of the 14 devices have fewer than 250 sentences and two "
        "fewer than 100. Per-device scores in notebook 02 should be read with these supports in "
        "mind.",
    ),
    ("md", "## How many devices does a sentence carry?"),
    (
        "code",
        """\
per_sentence = explore.devices_per_sentence(table)
ax = explore.plot_bars(
    per_sentence, title="Devices per sentence", xlabel="devices in the sentence",
    ylabel="sentences", horizontal=False,
)
ax.set_yscale("log")
plt.show()
per_sentence""",
    ),
    (
        "md",
        """\
## Which devices occur together?

Cell (row *a*, column *b*) is the share of sentences with device *a* that also carry *b*
(the diagonal is 1). Rows are not symmetric: a rare device can always co-occur with a frequent
one without the reverse being true.""",
    ),
    (
        "code",
        """\
together = explore.cooccurrence(table, devices)
share = together.div(np.diag(together), axis=0)
fig, ax = plt.subplots(figsize=(10, 8))
explore.plot_heatmap(
    share, ax=ax, fmt="{:.2f}", colorbar_label="share of row-device sentences",
    title="Device co-occurrence within a sentence (row-normalised)",
)
plt.show()""",
    ),
    ("md", "## Are sentences with a device longer?"),
    (
        "code",
        """\
lengths = explore.sentence_lengths(table, devices)
fig, ax = plt.subplots(figsize=(10, 6))
explore.plot_boxes(
    lengths, group="device", value="words", ax=ax, xlabel="sentence length (words)",
    title="Sentence length by device (boxes: quartiles; outliers hidden)",
)
plt.show()
lengths.groupby("device")["words"].describe()[["count", "50%", "mean"]].sort_values("50%")""",
    ),
    (
        "md",
        "Sentences with a device are mostly longer than sentences without one (short "
        "Thought-terminating clichés aside): part of what any sentence model learns is simply "
        "length, one reason `proplens.features` has a shape block.",
    ),
    ("md", "## How much of an article is flagged?"),
    (
        "code",
        """\
documents = explore.document_flagged_share(table)
fig, ax = plt.subplots(figsize=(8, 4))
ax.hist(documents["share"], bins=20, range=(0, 1), color="#4363d8", edgecolor="white")
ax.set_xlabel("share of the article's sentences that carry a device")
ax.set_ylabel("articles")
ax.set_title("Articles by share of flagged sentences")
plt.show()
documents["share"].describe()""",
    ),
    (
        "md",
        """\
Shares run from articles with no flagged sentence to articles with nine in ten. The corpus was
built to study propaganda techniques (see `PROVENANCE.md` in the data folder and Da San Martino
et al., 2019), not sampled from the news at large, so these shares are not a base rate for
ordinary reporting, and a model tuned on them carries them along: notebook 02 shows that, out of
fold, it labels more sentences than the annotators did even on this corpus.""",
    ),
]

# ------------------------------------------------------------------------------------------------
NOTEBOOKS["02-model-and-errors"] = [
    (
        "md",
        """\
# 02 · How good is the model, and where does it go wrong?

**Question:** for each device, how precise and complete is the sentence classifier, how does the
decision threshold trade precision for recall, which devices does the span classifier confuse,
what words does it rely on, which of its mistakes is it most sure about, and how well do two
annotators agree on the same sentences?

**A faster configuration than the shipped model.** The default model's 5-fold cross-validation
takes several minutes; this notebook must run in under two minutes on a 2-core machine. So it
uses word n-grams only (`make_sentence_features(chars=False)`), 2 inner folds for the threshold
search (`threshold_folds=2`) and **3 outer folds**. Everything else is as in the real evaluation:
folds are grouped by article (an article's sentences never straddle train and test) and every
supervised step, including the per-device thresholds, is fit inside the training fold. Expect
figures **clearly below** the shipped model's (its model card, `models/ptc-default/*/README.md`,
from 5-fold CV with all features): most of all for the rare devices and in span mode. The
per-device table below puts the shipped model's F1 next to this notebook's; read this notebook
for the shape of the errors, the model card for the model's quality.

Folds group sentences by article ID. Some stories sit in the training split more than once, as
a report and its rewrite under different IDs, and can fall on both sides of a fold, which
flatters the scores; the shipped model's card shares this. `group_by="story"` (and
`proplens evaluate --group-by story`) keeps related articles in one fold; the README gives the
shipped model's figures both ways.""",
    ),
    ("code", SETUP),
    (
        "code",
        """\
from proplens.corpus import read_semeval2020
from proplens.evaluation import cross_validate_sentences, cross_validate_spans, span_frame
from proplens.features import make_sentence_features
from proplens.model import DeviceClassifier, SpanClassifier

FOLDS = 3
corpus = read_semeval2020(dedupe=True)
table = corpus.sentence_table()
devices = [d.name for d in proplens.load_taxonomy().devices if d.origin == "semeval2020"]


def fast_classifier(names):
    \"\"\"Word n-grams only, 2 inner threshold folds: the notebook's fast configuration.\"\"\"
    return DeviceClassifier(
        names, features=make_sentence_features(chars=False), threshold_folds=2, n_jobs=2
    )


# The recorder keeps each fold's fitted model so mistakes can be explained further down.
recorder = explore.FoldRecorder(fast_classifier)
report, oof = cross_validate_sentences(table, devices, make_estimator=recorder, n_splits=FOLDS)
print(f"{FOLDS}-fold CV grouped by article took {report.seconds:.0f} s")
labelled_share = oof["predicted"].map(bool).mean()
print(
    f"sentences with at least one device: {labelled_share:.1%} predicted out of fold, "
    f"{table['devices'].map(bool).mean():.1%} annotated"
)
report.summary_frame().round(3)""",
    ),
    (
        "md",
        """\
Tuned for F1, the thresholds favour recall over precision: out of fold the model puts at least
one device on clearly more sentences than the annotators did. Keep this in mind when reading
shares of flagged sentences in notebook 03.

## Precision, recall and F1 per device

`shipped_f1` is the F1 of the same device in the default model's card (5-fold CV, all features),
for comparison; `support` counts annotated sentences.""",
    ),
    (
        "code",
        """\
from proplens.artifacts import read_metadata
from proplens.registry import resolve

per_device = report.per_device.drop(index=["micro", "macro"]).sort_values("f1")
card = read_metadata(resolve(None)).metrics.get("per_device", {})  # the default model's card
per_device["shipped_f1"] = [card.get(d, {}).get("f1", np.nan) for d in per_device.index]
print(
    f"macro-F1 over the {len(per_device)} devices: {per_device['f1'].mean():.3f} here, "
    f"{per_device['shipped_f1'].mean():.3f} in the shipped model's card"
)
fig, ax = plt.subplots(figsize=(9, 7))
explore.plot_bars(
    per_device[["precision", "recall", "f1"]], ax=ax, xlabel="score (out-of-fold)",
    ylabel="device", title=f"Per-device scores, {FOLDS}-fold CV grouped by article",
)
ax.set_xlim(0, 1)
plt.show()
per_device.round(3)""",
    ),
    (
        "md",
        """\
## Precision–recall curves and threshold against F1

First grid: the precision–recall curve of each device's out-of-fold probabilities (n = annotated
sentences). Second grid: F1 if the device were predicted above each threshold, with the
thresholds the fold models chose (dashed lines). Flat, low curves mean more data or better
features are needed; a dashed line far from the peak would mean the in-fold threshold search
generalises poorly.""",
    ),
    (
        "code",
        """\
from proplens.labels import to_indicator

truth = to_indicator(table["devices"].tolist(), devices)
columns = 4
rows = -(-len(devices) // columns)
pr_figure, pr_axes = plt.subplots(rows, columns, figsize=(14, 3.2 * rows), squeeze=False)
f1_figure, f1_axes = plt.subplots(rows, columns, figsize=(14, 3.2 * rows), squeeze=False)
for position, device in enumerate(devices):
    y, p = truth[:, position], oof[device].to_numpy()
    ax = pr_axes.flat[position]
    curve = explore.pr_curve(y, p)
    ax.plot(curve["recall"], curve["precision"], color="#4363d8")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(f"{device} (n={int(y.sum())})", fontsize=9)
    ax = f1_axes.flat[position]
    f1 = explore.threshold_curve(y, p)
    ax.plot(f1["threshold"], f1["f1"], color="#e6194b")
    for model in recorder.models:
        ax.axvline(model.thresholds_[device], color="grey", linestyle="--", lw=0.8)
    ax.set(xlabel="threshold (log scale)", ylabel="F1", xscale="log", ylim=(0, 1))
    ax.set_title(device, fontsize=9)
for axes in (pr_axes, f1_axes):
    for ax in axes.flat[len(devices):]:
        ax.set_visible(False)
pr_figure.suptitle("Precision-recall curves of the out-of-fold probabilities")
f1_figure.suptitle("F1 against threshold (dashed: thresholds chosen inside each fold)")
pr_figure.tight_layout()
f1_figure.tight_layout()
plt.show()""",
    ),
    (
        "md",
        "A dashed line at the right edge is a fold whose threshold search found no threshold "
        "that helped F1: that fold model never predicts the device. Thought-terminating_Cliches "
        "is never predicted by any fold, which is why its F1 in the table above is 0; a few other "
        "rare devices lose one fold this way.",
    ),
    (
        "md",
        """\
## Which devices does the span classifier confuse?

In span mode (SemEval-2020's technique-classification subtask, TC) the gold span is given and
the model only names its device. For speed this notebook's span model reads TF-IDF word n-grams
of the span text alone (the shipped model adds character n-grams, the surrounding sentence and
repetition counts). Rows: gold device; columns: predicted device; each row sums to 1.""",
    ),
    (
        "code",
        """\
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer


def fast_span_classifier():
    \"\"\"TF-IDF of the span's own words only: the notebook's fast span configuration.\"\"\"
    words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    return SpanClassifier(features=ColumnTransformer([("span", words, "span")]))


spans = span_frame(corpus.documents, corpus.spans)
tc_micro, tc_per_device, predicted = cross_validate_spans(
    spans, make_estimator=fast_span_classifier, n_splits=FOLDS
)
print(f"TC micro-F1 (= accuracy) on {len(spans)} gold spans: {tc_micro:.3f}")
confusion = explore.span_confusion(spans["device"], predicted)
fig, ax = plt.subplots(figsize=(10, 8))
explore.plot_heatmap(
    confusion, ax=ax, fmt="{:.2f}", colorbar_label="share of gold spans",
    title=f"Span mode (TC) confusion, {FOLDS}-fold CV grouped by article",
)
plt.show()""",
    ),
    (
        "md",
        "Rare devices are mostly absorbed by frequent ones: off the diagonal, most errors sit in "
        "the Loaded_Language column, then Doubt and Name_Calling,Labeling.",
    ),
    (
        "md",
        """\
## The strongest n-grams per device

The word n-grams with the largest weights in the first fold's model (trained on two thirds of the
articles). These weights are what the evidence in a scored document is made of.""",
    ),
    (
        "code",
        """\
grams = explore.top_ngrams(recorder.models[0], n=8)
grams.groupby("device")["ngram"].apply(", ".join).to_frame("strongest word n-grams")""",
    ),
    (
        "md",
        """\
Tokens such as `xpersonx` and `xcountryx` stand for names: the features replace people,
countries, places, parties and organisations by a token of their kind (entity masking,
`proplens.entities`), so a name itself cannot be a cue. Words for nationalities, religions and
other groups are not masked, and several rank among the strongest cues: the model partly learns
the topics of the corpus's articles, not only their rhetoric, so a sentence that merely mentions
such a group can score higher. Read the evidence, and be careful with articles on other topics.""",
    ),
    (
        "md",
        """\
## The most confident mistakes

Out-of-fold decisions that were most confidently wrong, at each fold's tuned thresholds: the
strongest *false alarms* (flagged, not annotated; ranked by probability) and *misses* (annotated,
not flagged; ranked by one minus the probability), each with the words that
raised the score in the fold model that had not seen the article. They are shown as two tables:
the two confidences do not compare. A rare device gets small probabilities everywhere, so its
misses reach a confidence near 1 almost by construction (and every sentence of a device a fold
never predicts is a miss), while false alarms are bounded by the highest probabilities the model
gives. Some "mistakes" are annotation gaps rather than model errors, and a miss with no evidence
is a device the words alone do not show (a sentence inside a long annotated span, a device
carried by context); reading them is the quickest way to find both.""",
    ),
    (
        "code",
        """\
from IPython.display import display

mistakes = explore.confident_mistakes(table, oof, devices, n=15, recorder=recorder)
for kind, rows in mistakes.groupby("kind", sort=True):
    print(f"{kind}s, most confident first")
    display(rows.drop(columns="kind").reset_index(drop=True).round(3))""",
    ),
    (
        "md",
        """\
## How often do two annotators agree?

Device labels are judgements. NLP4IF-2019 holds twelve of these training articles twice, each
copy annotated by an independent pass: the second under the article ID with "9" appended
(proplens otherwise keeps one copy). Their texts are those of the SemEval-2020 articles, so the
two passes, the SemEval-2020 gold and this notebook's out-of-fold predictions can be compared
sentence by sentence: the sentence-level F1 (any device), Cohen's kappa of the same flags, and
micro-F1 over the device labels, each with a 95% bootstrap interval over articles.""",
    ),
    (
        "code",
        """\
import warnings

from proplens.corpus import read_nlp4if2019

with warnings.catch_warnings():  # three spans run past their article's end (PROVENANCE.md)
    warnings.simplefilter("ignore")
    release = read_nlp4if2019()
passes = explore.annotation_passes(release, gold=table)
model_reading = oof[["predicted", "flagged"]].assign(
    document_id=table["document_id"], start=table["start"]
)
passes = passes.merge(model_reading, on=["document_id", "start"], how="left")
readings = {
    "pass 1 vs pass 2": explore.agreement(passes, "pass 1", "pass 2"),
    "pass 1 vs gold": explore.agreement(passes, "gold", "pass 1"),
    "pass 2 vs gold": explore.agreement(passes, "gold", "pass 2"),
    "model vs gold, these articles": explore.agreement(
        passes, "gold", "predicted", other_flagged="flagged"
    ),
    "model vs gold, all articles": explore.agreement(
        table.assign(predicted=oof["predicted"], flagged=oof["flagged"]),
        "devices", "predicted", other_flagged="flagged",
    ),
}
print(
    f"{passes['document_id'].nunique()} articles, {len(passes)} sentences; flagged by pass 1: "
    f"{passes['pass 1'].map(bool).mean():.0%}, pass 2: {passes['pass 2'].map(bool).mean():.0%}, "
    f"gold: {passes['gold'].map(bool).mean():.0%}"
)
pd.concat(readings, names=["comparison"]).round(3)""",
    ),
    (
        "md",
        """\
The SemEval-2020 gold of these articles is the union of the two passes: a sentence carries a
device when either annotator marked it. Two annotators agree at a sentence-level F1 of about 0.6
and a micro-F1 of about a third. An annotator scores high against this gold partly because the
gold contains their own labels, so those rows are no human ceiling; a third, independent
annotator would be the fair comparison, and the corpora hold none. Twelve articles are few, and
they are denser in propaganda than the corpus, which raises every F1 on them (kappa corrects for
that). `benchmarks/annotator_agreement.py` puts the shipped model beside the two passes.""",
    ),
]

# ------------------------------------------------------------------------------------------------
NOTEBOOKS["03-score-articles"] = [
    (
        "md",
        """\
# 03 · Scoring articles with the shipped model

**Question:** what does the default model say about whole articles — which devices, how much of
each article, and where — and do groups of articles differ?

We score the project's own example (`datasets/examples/harbour-bridge.txt`, written for proplens)
and the unlabelled SemEval-2020 test articles with `proplens.load_model()`, the default model of
the registry (`models/current.json`, or `PROPLENS_MODELS`).""",
    ),
    ("code", SETUP),
    (
        "code",
        """\
from IPython.display import HTML, display

from proplens import config
from proplens.corpus import read_semeval2020
from proplens.report import render_html

model = proplens.load_model()
print(
    f"{model}: {len(model.devices)} devices, each with its own threshold tuned in "
    "cross-validation, plus one for 'any device'"
)
example_path = config.checkout_root() / "datasets" / "examples" / "harbour-bridge.txt"
example = model.score(example_path.read_text(encoding="utf-8"), document_id=example_path.name)
example.to_frame()[["index", "propaganda", "labels", "evidence"]].round(3)""",
    ),
    (
        "md",
        """\
Read the labels against the text: the example was written to hold devices on both sides of the
dispute, and the model misses some of the rare ones that notebook 02 shows it seldom finds: the
false dilemma ("Either ... or ...") never gets Black-and-White_Fallacy, and the
thought-terminating cliché is left unlabelled. The closing slogan it does label.

## One article, highlighted

The same HTML report that `proplens score --format html` writes, rendered inline.""",
    ),
    ("code", "display(HTML(render_html(example.to_dict())))"),
    (
        "md",
        "## Many articles\n\nThe SemEval-2020 test articles have no public labels; the model "
        "scores all of them in one batch (`score_many`).",
    ),
    (
        "code",
        """\
test = read_semeval2020(split="test")
ids = sorted(test.documents)
results = model.score_many([test.documents[i] for i in ids], document_ids=ids)
profiles = explore.profile_frame(results)
print(f"{len(results)} test articles scored")
profiles[["sentences", "propaganda_score", "flagged_share"]].describe().round(3)""",
    ),
    (
        "md",
        "`flagged_share` is the model's count, not an annotator's: its mean is well above the "
        "share of sentences the annotators marked in the training articles (notebook 01). The "
        "thresholds favour recall (notebook 02), and Unverified_Figures, a device added by this "
        "project that SemEval's annotators never marked, adds labels of its own.",
    ),
    (
        "md",
        "## Profiles side by side\n\nThe example and the five highest- and lowest-scoring "
        "test articles: the share of each article's sentences labelled with each device.",
    ),
    (
        "code",
        """\
ranked = profiles.sort_values("propaganda_score")
chosen = pd.concat(
    [explore.profile_frame([example], names=["harbour-bridge (example)"]), ranked.head(5),
     ranked.tail(5)]
)
device_columns = [d for d in model.devices if d in chosen.columns]
fig, ax = plt.subplots(figsize=(12, 6))
explore.plot_heatmap(
    chosen[device_columns], ax=ax, fmt="{:.2f}", colorbar_label="share of sentences",
    title="Document profiles: share of sentences labelled with each device",
)
ax.set_xlabel("device")
ax.set_ylabel("article")
plt.show()
fig, ax = plt.subplots(figsize=(8, 5))
explore.plot_bars(
    chosen["propaganda_score"], ax=ax, title="Propaganda score of the chosen articles",
    xlabel="mean any-device probability over sentences", ylabel="article",
)
plt.show()""",
    ),
    (
        "md",
        """\
## Comparing groups of articles

Do long articles use devices more densely than short ones? We split the test articles into
length terciles and compare their mean propaganda score (95% bootstrap interval over articles)
and device shares. Here the three intervals overlap widely: these 89 articles show no clear
difference by length (intervals that only just overlap would need a proper test before saying
either way). The device chart shows the six devices most frequent across all test articles.""",
    ),
    (
        "code",
        """\
length_group = pd.qcut(profiles["sentences"], 3, labels=["short", "medium", "long"])
groups = explore.compare_groups(profiles, length_group)
fig, ax = plt.subplots(figsize=(7, 4))
ax.errorbar(
    groups.index.astype(str), groups["mean_score"],
    yerr=[groups["mean_score"] - groups["ci_low"], groups["ci_high"] - groups["mean_score"]],
    fmt="o", capsize=6,
)
ax.set_xlabel("article length tercile")
ax.set_ylabel("mean propaganda score")
ax.set_title("Propaganda score by article length (95% bootstrap CI)")
plt.show()
top = profiles[device_columns].mean().sort_values(ascending=False).index[:6]
explore.plot_bars(
    groups[list(top)], title="Share of sentences per device, by article length",
    xlabel="mean share of sentences", ylabel="length group",
)
plt.show()
groups.round(3)""",
    ),
]

# ------------------------------------------------------------------------------------------------
NOTEBOOKS["04-add-a-device"] = [
    (
        "md",
        """\
# 04 · Adding a device and retraining

**Question:** how does a newsroom add its own device, train a model that knows it, check that
nothing else got worse, and undo the change if it did?

The whole workflow runs in a **temporary folder**: a copy of the taxonomy (`PROPLENS_TAXONOMY`)
and an empty models root (`PROPLENS_MODELS`), so running this notebook never changes the
repository or the shipped model. To stay fast it trains on a small set of sentences written for
this notebook (fictional towns and offices) instead of the corpus (`base=False`); with the real
corpus the steps are the same, minus `base=False`.""",
    ),
    ("code", SETUP),
    (
        "code",
        """\
import atexit
import csv
import os
import shutil
import tempfile
from pathlib import Path

from proplens import config

workspace = Path(tempfile.mkdtemp(prefix="proplens-notebook-04-"))
# the last cell removes it; this removes it too when the kernel stops before reaching that cell
atexit.register(shutil.rmtree, workspace, ignore_errors=True)
shutil.copy(config.taxonomy_path(), workspace / "taxonomy.toml")
# what the environment held before, so that the last cell can put it back
environment_names = ("PROPLENS_TAXONOMY", "PROPLENS_MODELS")
saved_environment = {name: os.environ.get(name) for name in environment_names}
os.environ["PROPLENS_TAXONOMY"] = str(workspace / "taxonomy.toml")
os.environ["PROPLENS_MODELS"] = str(workspace / "models")
print("taxonomy:", config.taxonomy_path())
print("models:  ", config.models_dir())""",
    ),
    (
        "md",
        """\
## 1 · Labels for the devices we already have

Sentence labels as a CSV with `document_id`, `text` and `devices` (`;`-separated names, `none`
for "checked, no device"); `docs/retraining.md` lists the other formats (stand-off offsets,
Label Studio exports). All sentences are invented for this notebook.""",
    ),
    (
        "code",
        """\
towns = ["Velmora", "Ostrand", "Kellby", "Marrowgate", "Tessaly", "Brindleford"]
offices = ["harbour board", "water council", "ferry office", "school trust"]
templates = {
    "Loaded_Language": [
        "The {o} of {t} pushed through its reckless, shameful scheme.",
        "This disastrous plan from the {o} will wreck {t} for a generation.",
        "Residents of {t} call the {o} decision an outrage and a betrayal.",
    ],
    "Doubt": [
        "Can anyone in {t} really believe the {o} this time?",
        "Why should {t} trust figures from the {o} that keep changing?",
    ],
    "none": [
        "The {o} of {t} met on Tuesday to review the budget.",
        "A new timetable from the {o} for {t} starts next month.",
        "The {o} published its annual report for {t} on Friday.",
        "The {o} of {t} says the timetable changes on Monday.",
    ],
    "Vague_Sourcing": [
        "Sources close to the {o} say {t} will lose its ferry.",
        "Some experts believe the {o} in {t} hid the real costs.",
        "People are saying that {t} was warned long ago by the {o}.",
    ],
}


def write_labels(path, devices):
    \"\"\"One labelled sentence per template, town and office; a document per town+office.\"\"\"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["document_id", "text", "devices"])
        for t in towns:
            for k, o in enumerate(offices):
                for device in devices:
                    for template in templates[device]:
                        writer.writerow([f"{t.lower()}-{k}", template.format(t=t, o=o), device])
    return path


from proplens.labeling import add_device, read_labels, validate_labels

first = write_labels(workspace / "first.csv", ["Loaded_Language", "Doubt", "none"])
labels = read_labels([first])
pd.DataFrame(labels.counts()).T""",
    ),
    (
        "md",
        """\
## 2 · Train version 1

`train()` validates the labels, cross-validates (3 folds, grouped by document), fits, and saves
`newsroom/v1`; as the first model it becomes the default. Here every document repeats the same
templates with other names, so a held-out fold never meets a new wording and its F1 of 1.0
measures nothing; with real labels the same folds do test new text.""",
    ),
    (
        "code",
        """\
from proplens import registry
from proplens.training import train

v1 = train(name="newsroom", labels=[first], base=False, n_splits=3)
print(v1.directory.name, "promoted:", v1.promoted)
registry.list_models()[["name", "version", "labels", "micro_f1", "current"]]""",
    ),
    (
        "md",
        """\
## 3 · Declare the new device

`add_device` writes it to the (temporary) taxonomy with a definition and an example. A label
file naming a device the taxonomy does not know is refused, with file and line:""",
    ),
    (
        "code",
        """\
second = write_labels(workspace / "second.csv", ["Vague_Sourcing", "none"])
report = validate_labels([second])
print("valid before the device exists:", report.ok)
print(report.problems[0])

add_device(
    "Vague_Sourcing",
    "A claim credited to unnamed or unverifiable sources, so that it cannot be checked.",
    "Insiders say the mayor of Velmora will resign before the summer.",
)
print("valid after add_device:", validate_labels([second]).ok)""",
    ),
    (
        "md",
        "## 4 · Retrain with the new labels\n\nThe promotion guard compares the new version with "
        "the current default device by device and only promotes it when no device's F1 dropped "
        "beyond the spread of the cross-validation.",
    ),
    (
        "code",
        """\
v2 = train(name="newsroom", labels=[first, second], base=False, n_splits=3)
print(v2.directory.name, "promoted:", v2.promoted)
print(v2.decision.message())
registry.list_models()[["name", "version", "labels", "micro_f1", "current"]]""",
    ),
    (
        "md",
        """\
## 5 · Before and after

`registry.diff` compares the two versions device by device (cross-validated F1 and thresholds
from each model's metadata). The sentences here are templated, so every score is close to 1: they
show the workflow, not what to expect on real news.""",
    ),
    (
        "code",
        """\
comparison = registry.diff("newsroom@v1", "newsroom@v2")
print("micro-F1 before/after:", comparison.attrs["micro_f1"])
fig, ax = plt.subplots(figsize=(7, 3.5))
explore.plot_bars(
    comparison.set_index("device")[["f1_before", "f1_after"]].fillna(0.0), ax=ax,
    title="Cross-validated F1 per device, v1 against v2", xlabel="F1 (0 = device absent)",
    ylabel="device",
)
plt.show()
comparison""",
    ),
    (
        "md",
        """\
Both versions on a text that is not in the labels: a sourcing claim, then a plain sentence.
v2 does label the sourcing claim Vague_Sourcing, but it also puts the new device on the plain
sentence, and v1 calls the sourcing claim Loaded_Language. A few dozen templated sentences
teach a model the templates' words and layout, not the device, and the cross-validation above
cannot show it. With real labels, read a new device's labels on text unlike its labels before
trusting its scores.""",
    ),
    (
        "code",
        """\
text = (
    "Sources close to the lighthouse trust say Pellan Cove will lose its pier. "
    "The trust of Pellan Cove met on Wednesday to review the accounts."
)
side_by_side = {}
for version in ("v1", "v2"):
    scored = proplens.load_model(f"newsroom@{version}").score(text)
    side_by_side[version] = [", ".join(s.labels) or "-" for s in scored.sentences]
pd.DataFrame(side_by_side, index=[s.text for s in scored.sentences])""",
    ),
    (
        "md",
        "## 6 · Roll back\n\nIf the new version misbehaves in use, `rollback` makes the previous "
        "default current again (the v2 files stay, so `registry.use('newsroom@v2')` restores it).",
    ),
    (
        "code",
        """\
print("current before rollback:", registry.current())
print("rolled back to:", registry.rollback())
assert proplens.load_model().version == "v1"
registry.list_models()[["name", "version", "current"]]""",
    ),
    (
        "code",
        """\
# Leave nothing behind: the temporary taxonomy and models go, the environment is restored.
for name, value in saved_environment.items():
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
shutil.rmtree(workspace)""",
    ),
]


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A notebook with the given cells, no outputs, and stable (position-based) cell ids."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for position, (kind, source) in enumerate(cells):
        maker = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        cell = maker(source.rstrip("\n"))
        cell.id = f"{name[:2]}-{position:02d}"
        notebook.cells.append(cell)
    nbformat.validate(notebook)
    return notebook


def render(name: str) -> str:
    return nbformat.writes(build(name, NOTEBOOKS[name])) + "\n"


def main(argv: list[str]) -> int:
    stale = []
    for name in NOTEBOOKS:
        path = HERE / f"{name}.ipynb"
        text = render(name)
        if "--check" in argv:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date (run python notebooks/build_notebooks.py): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
