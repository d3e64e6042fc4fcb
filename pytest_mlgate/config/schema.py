"""thresholds.toml's data model: the frozen dataclasses, their keys, defaults and pure helpers."""

from __future__ import annotations

import dataclasses
import difflib
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pytest_mlgate.errors import ConfigError
from pytest_mlgate.tasks import shipped_task_names

DEFAULT_CONFIG_NAME = "thresholds.toml"

DTYPES = ("auto", "float32", "float16", "bfloat16")
TURKISHMMLU_SUBJECTS = (
    "biology",
    "chemistry",
    "geography",
    "history",
    "mathematics",
    "philosophy",
    "physics",
    "religion_and_ethics",
    "turkish_language_and_literature",
)
# Names usable in a suite's task list; each expands to the tasks listed.
PRESETS: Mapping[str, tuple[str, ...]] = {
    # The offline Turkish tasks shipped with pytest-mlgate.
    "@tr-smoke": ("mlgate_tr_mc", "mlgate_tr_math", "mlgate_tr_gen"),
    # lm-eval's Turkish benchmarks (their datasets come from the Hugging Face hub).
    "@tr-full": (
        *(f"turkishmmlu_{s}" for s in TURKISHMMLU_SUBJECTS),
        "xcopa_tr",
        "xnli_tr",
        "belebele_tur_Latn",
        "xquad_tr",
        "global_mmlu_full_tr",
        "include_base_44_turkish",
    ),
}
DEFAULT_SUITE = "fast"  # what `pytest -m eval` runs without --mlgate-suite
CHANCE_POLICIES = ("fail", "warn", "off")
TREND_POLICIES = ("warn", "fail", "off")
CORRECTIONS = ("holm", "bonferroni", "none")
ERROR_RATES = ("run", "family")
ON_INCOMPARABLE = ("fail", "warn")


# -- the schema: each key declared once, as a field of its table's dataclass -----------------
# A field is a key of its table unless marked NOT_A_KEY (set by the program: a suite's name, a
# threshold's task). A field declared with ``setting`` also says how its value is checked, so
# its key, default, check and doc are one declaration and ``read_settings`` (in load.py) parses
# it.
NOT_A_KEY: Mapping[str, Any] = {"key": False}


DEFAULT_MODEL_FOLDERS = ("checkpoints", "models", "model", "weights")
DEFAULT_SUITES: Mapping[str, str] = {
    "code": "fast",
    "prompt": "fast",
    "data": "full",
    "model": "full",
    "config": "full",
}


@dataclass(frozen=True)
class TriggerConfig:
    """``[triggers]``: which suite each kind of change asks for (``--mlgate-suite auto``; the
    matching itself is ``config/triggers.py``, imported when a plan is made)."""

    paths: tuple[tuple[str, str], ...] = ()  # the user's (glob, kind), before the defaults
    suites: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SUITES))
    order: tuple[str, ...] = ()  # shallow to deep; empty: the order suites are declared in
    other: str = "code"  # the kind of a path no glob matches
    #: Folders whose DVC-tracked outputs are weights (the [model] checkpoint folder is added).
    model_folders: tuple[str, ...] = DEFAULT_MODEL_FOLDERS


@dataclass(frozen=True)
class Number:
    """A finite number in a range (open or closed at each end)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False


@dataclass(frozen=True)
class Integer:
    low: int = 0


@dataclass(frozen=True)
class Choice:
    choices: tuple[str, ...] = ()  #: empty: any string


@dataclass(frozen=True)
class Flag:
    """true or false."""


Check = Number | Integer | Choice | Flag


def setting(default: Any, check: Check, doc: str) -> Any:
    """A key with its default, how its value is checked and what it means."""
    return field(default=default, metadata={"check": check, "doc": doc})


def keys_of(cls: type) -> tuple[str, ...]:
    """The keys a table accepts: its dataclass's fields, in order, but those NOT_A_KEY."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("key", True))


def doc_of(cls: type, key: str) -> str:
    """What a key means, as its field declares it ("" where it declares no doc)."""
    return str({f.name: f for f in dataclasses.fields(cls)}[key].metadata.get("doc", ""))


def suggest(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str:
    """`` Did you mean 'x'?`` for the closest candidate, or an empty string."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=cutoff)
    return f" Did you mean {matches[0]!r}?" if matches else ""


@dataclass(frozen=True)
class ModelConfig:
    checkpoint: str | None = None
    backend: str = "hf"
    dtype: str = "auto"
    device: str = "auto"
    batch_size: int | str = "auto"
    model_args: Mapping[str, Any] = field(default_factory=dict)
    chat_template: bool | str = False  #: apply the tokenizer's template (or the one named)
    system_instruction: str | None = None
    fewshot_as_multiturn: bool | None = None  #: None: lm-eval's default (on with a template)
    gen_kwargs: Mapping[str, str | int | float | bool] = field(default_factory=dict)
    #: how the hf backend scores log-likelihood requests (SCORING_PATHS): a multiple-choice
    #: question's context once for all its choices, or lm-eval's one pass per choice
    scoring: str = "shared-context"
    #: torch's intra-op threads for a CPU evaluation (None: torch's default, one per core);
    #: float sums are reduced in thread-sized chunks, so the last bits of a score can depend on it
    threads: int | None = None

    @property
    def multiturn(self) -> bool:
        """Few-shot examples as chat turns: as asked, else whenever a template is applied."""
        if self.fewshot_as_multiturn is None:
            return self.chat_template is not False
        return self.fewshot_as_multiturn


@dataclass(frozen=True)
class LatencyConfig:
    """``[suites.NAME] latency``: single-request generation latency on the suite's generative
    documents."""

    requests: int = 200  #: measured requests (after the warm-up)
    max_new_tokens: int = 32
    warmup: int = 3  #: requests sent first and not counted (allocations, kernels, caches)


@dataclass(frozen=True)
class LatencyBound:
    """``[latency] p50_ms`` / ``p99_ms``: a bound in milliseconds and an allowed increase."""

    name: str = field(metadata=NOT_A_KEY)  #: p50_ms or p99_ms
    max: float | None = None
    max_increase: float | None = None  #: relative to the baseline's, on the same hardware

    @property
    def quantile(self) -> float:
        return 0.5 if self.name == "p50_ms" else 0.99


SEQUENTIAL_LOOKS = (0.1, 0.25, 0.5, 1.0)  # `sequential = true`: the default looks


def looks_problem(looks: tuple[float, ...]) -> str | None:
    """What is wrong with sequential look fractions, or None: they must be increasing fractions
    in (0, 1] ending at 1.0 (the last look sees every document, so every item is decided)."""
    if not looks:
        return "looks is empty; give increasing fractions ending at 1.0, e.g. [0.25, 1.0]"
    outside = [x for x in looks if not 0.0 < x <= 1.0]
    if outside:
        return f"{outside[0]!r} is not a fraction in (0, 1] of the documents"
    if any(b <= a for a, b in itertools.pairwise(looks)):
        return "looks are not strictly increasing"
    if looks[-1] != 1.0:
        return (
            f"the looks end at {looks[-1]!r}; the last look must be 1.0 (all documents), "
            "so every undecided item is decided"
        )
    return None


@dataclass(frozen=True)
class SequentialConfig:
    """``[suites.NAME] sequential``: evaluate look by look, stopping once every item is decided."""

    looks: tuple[float, ...] = SEQUENTIAL_LOOKS  #: fractions of each task's documents


@dataclass(frozen=True)
class SuiteConfig:
    name: str = field(metadata=NOT_A_KEY)  #: the table's: [suites.NAME]
    tasks: tuple[str, ...]
    sample: int | None = None
    num_fewshot: int | Mapping[str, int] | None = None  # one n for all, or per task
    seed: int = 1234
    perturb: tuple[str, ...] = ()  # each task also runs as TASK@ascii, TASK@upper, ...
    typo_rate: float = 0.05  # TASK@typo: the share of letters hit by a neighbouring key
    latency: LatencyConfig | None = None  # single-request latency measured (None: not)
    sequential: SequentialConfig | None = None  # look by look (None: every document at once)

    @property
    def variants(self) -> tuple[str, ...]:
        """The perturbed variants the suite runs besides its tasks (``TASK@KIND``)."""
        return tuple(f"{task}@{kind}" for task in self.tasks for kind in self.perturb)

    @property
    def all_tasks(self) -> tuple[str, ...]:
        return (*self.tasks, *self.variants)


PERTURBATIONS = ("ascii", "upper", "lower", "typo")
VARIANT_MARK = "@"


def clean_task(task: str) -> str:
    """``mlgate_tr_mc@ascii`` -> ``mlgate_tr_mc`` (a task that is no variant: itself)."""
    return task.partition(VARIANT_MARK)[0]


@dataclass(frozen=True)
class DeterminismConfig:
    """``[gate] determinism``: the stratified subset re-evaluated at each batch size."""

    sample: int = setting(50, Integer(low=1), "documents per task")
    batch_sizes: tuple[int, ...] = (1, 8)  #: besides the configured one (evaluated twice)
    min_agreement: float = setting(
        1.0, Number(0.0, 1.0), "the share of documents that must answer the same everywhere"
    )


@dataclass(frozen=True)
class GateConfig:
    store: str = (
        ".mlgate"  # a folder, file://PATH, "mlflow", "mlflow+http(s)://…", "mlflow+sqlite:///…"
    )
    experiment: str = "mlgate"  # the MLflow experiment of an MLflow store
    reference: str | None = None  # a checkpoint evaluated head to head on the same documents
    baseline: str = setting("main", Choice(), "the branch whose latest run is the baseline")
    alpha: float = setting(
        0.05, Number(0.0, 1.0, low_open=True, high_open=True), "the significance level"
    )
    max_drop: float = setting(0.02, Number(low=0.0), "the allowed drop against the baseline")
    correction: str = setting(
        "holm",
        Choice(CORRECTIONS),
        "across all gated metrics of a run, so many don't multiply alarms",
    )
    error_rate: str = setting(
        "run",
        Choice(ERROR_RATES),
        '"run": one correction over every comparison; "family": per family',
    )
    on_incomparable: str = setting(
        "fail", Choice(ON_INCOMPARABLE), "a baseline whose manifest differs in what moves scores"
    )
    cache: str = setting(".mlgate-cache", Choice(), 'result cache folder ("" turns it off)')
    chance: str = setting(
        "fail",
        Choice(CHANCE_POLICIES),
        "multiple-choice accuracy indistinguishable from guessing: fail, warn or off",
    )
    chance_margin: float = setting(
        0.05,
        Number(0.0, 1.0, high_open=True),
        "how far above chance the accuracy's upper bound must reach",
    )
    anchor: str | None = None  # a fixed run to compare with too: RUN_ID, tag:PATTERN, models:/…
    max_drift: float | None = setting(
        None, Number(low=0.0), "the allowed drop against the anchor (unset: not compared)"
    )
    on_trend: str = setting(
        "warn",
        Choice(TREND_POLICIES),
        "a downward trend over the history (a CUSUM alarm): warn, fail or off",
    )
    trend_arl: int = setting(
        500,
        Integer(low=20),
        "the trend alarm's average run length between false alarms, in runs",
    )
    determinism: DeterminismConfig | None = None  # None: not checked
    record_sequential: bool = False  # a --mlgate-record run may stop early too (else: whole)


@dataclass(frozen=True)
class WandbConfig:
    """``[report] wandb``: each gated run logged as a Weights & Biases run."""

    project: str
    entity: str | None = None
    tags: tuple[str, ...] = ()
    timeout: float = 30.0  # seconds W&B may take to start the run (its own default is 90)


@dataclass(frozen=True)
class ReportConfig:
    history: int = setting(
        30, Integer(low=1), "recorded runs shown as columns of the regression matrix"
    )
    examples: int = setting(
        20, Integer(low=0), "flipped examples listed per task and direction in the drill-down"
    )
    redact: bool = setting(
        True, Flag(), "mask personal data (TCKN, IBAN, phone, e-mail) in every stored text"
    )
    #: the DVC metrics file each gated run writes (relative: to this file)
    metrics: str | None = None
    wandb: WandbConfig | None = None  # log each gated run to Weights & Biases


@dataclass(frozen=True)
class MetricThreshold:
    """One gated metric: the bounds a value must respect and the drop it may take."""

    task: str = field(metadata=NOT_A_KEY)  #: the table's: [thresholds.TASK]
    metric: str = field(metadata=NOT_A_KEY)  #: the key's: METRIC = {...}
    min: float | None = None
    max: float | None = None
    max_drop: float | None = None
    higher_is_better: bool | None = None  # overrides lm-eval's, or supplies it when it has none
    subgroups: bool = False  # gate each subgroup (with enough examples) as its own item
    min_subgroup: float | None = None  # the bound on every gated subgroup's value
    max_disparity: float | None = None  # the bound on the gap between the best and worst subgroup
    min_subgroup_n: int = 30  # subgroups with fewer examples are listed, not gated
    max_gap: float | None = None  # a variant (TASK@KIND): its allowed drop against the clean task
    max_drift: float | None = None  # its allowed drop against the anchor ([gate] max_drift)
    min_ratio: float | None = None  # vs the reference (or baseline): allowed drop (1-ratio)*value
    #: set on the item of one subgroup (not from the config file)
    subgroup: str | None = field(default=None, metadata=NOT_A_KEY)

    @property
    def item_name(self) -> str:
        name = f"{self.task}::{self.metric}"
        return name if self.subgroup is None else f"{name}[{self.subgroup}]"

    @property
    def gates_subgroups(self) -> bool:
        return self.subgroups or self.min_subgroup is not None

    def for_subgroup(self, subgroup: str) -> MetricThreshold:
        """The item of one subgroup: ``min_subgroup`` is its bound, the margin is the same."""
        return replace(
            self,
            min=self.min_subgroup,
            max=None,
            max_disparity=None,
            max_gap=None,
            subgroup=subgroup,
        )

    def describe(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        return " and ".join(parts) or "-"


@dataclass(frozen=True)
class MlgateConfig:
    path: Path
    model: ModelConfig
    include: tuple[Path, ...]
    suites: Mapping[str, SuiteConfig]
    gate: GateConfig
    thresholds: tuple[MetricThreshold, ...]
    report: ReportConfig = field(default_factory=ReportConfig)
    triggers: TriggerConfig = field(default_factory=TriggerConfig)
    latency: tuple[LatencyBound, ...] = ()  #: [latency] p50_ms / p99_ms

    @property
    def root(self) -> Path:
        return self.path.parent

    def suite(self, name: str) -> SuiteConfig:
        try:
            return self.suites[name]
        except KeyError:
            known = ", ".join(sorted(self.suites)) or "none"
            raise ConfigError(
                f"{self.path}: there is no suite {name!r} (suites: {known})."
                f"{suggest(name, self.suites)} Declare it as [suites.{name}]."
            ) from None

    def pii_tasks(self) -> tuple[str, ...]:
        """The tasks whose ``pii_rate`` is gated (computed from their raw responses)."""
        return tuple(
            dict.fromkeys(
                t.task for t in self.thresholds if t.metric.partition(",")[0] == "pii_rate"
            )
        )

    def thresholds_for(self, tasks: Iterable[str]) -> tuple[MetricThreshold, ...]:
        wanted = set(tasks)
        return tuple(t for t in self.thresholds if t.task in wanted)

    def ungated_variants(self, suite: SuiteConfig) -> tuple[str, ...]:
        """The suite's variants no threshold table gates: reported, not gated."""
        gated = {t.task for t in self.thresholds}
        return tuple(v for v in suite.variants if v not in gated)

    def local_task_names(self) -> set[str]:
        """Tasks known without lm-eval: the shipped ones and those in ``[tasks] include``."""
        names = set(shipped_task_names())
        for folder in self.include:
            names.update(scan_task_names(folder))
        return names


def scan_task_names(folder: Path) -> set[str]:
    """Task, group and tag names declared in the YAML files under ``folder``.

    A cheap line scan, so that config validation needs neither PyYAML nor lm-eval's index.
    """
    names: set[str] = set()
    for yaml_file in sorted(folder.rglob("*.yaml")):
        try:
            text = yaml_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        in_tag_list = False
        for line in text.splitlines():
            if in_tag_list:
                stripped = line.strip()
                if stripped.startswith("- "):
                    names.add(stripped[2:].strip().strip("'\""))
                    continue
                in_tag_list = False
            for key in ("task:", "group:", "tag:"):
                if line.startswith(key):
                    value = line[len(key) :].strip().strip("'\"")
                    if value and not value.startswith(("[", "!")):
                        names.add(value)
                    elif not value and key == "tag:":
                        in_tag_list = True
    return names


TOP_LEVEL_KEYS = (
    "model",
    "tasks",
    "suites",
    "gate",
    "thresholds",
    "report",
    "triggers",
    "latency",
)
TASKS_KEYS = ("include",)  #: [tasks]: folders of task YAMLs
LATENCY_SUITE_KEYS = keys_of(LatencyConfig)
LATENCY_GATES = ("p50_ms", "p99_ms")
LATENCY_BOUND_KEYS = keys_of(LatencyBound)
TRIGGER_KEYS = keys_of(TriggerConfig)
REPORT_KEYS = keys_of(ReportConfig)
WANDB_KEYS = keys_of(WandbConfig)
MODEL_KEYS = keys_of(ModelConfig)
SCORING_PATHS = ("shared-context", "lmeval")
SUITE_KEYS = keys_of(SuiteConfig)
SEQUENTIAL_KEYS = keys_of(SequentialConfig)
GATE_KEYS = keys_of(GateConfig)
DETERMINISM_KEYS = keys_of(DeterminismConfig)
THRESHOLD_KEYS = keys_of(MetricThreshold)
#: Every table thresholds.toml may hold (NAME, TASK, METRIC, GATE: any such name) and its keys.
ACCEPTED_KEYS: Mapping[str, tuple[str, ...]] = {
    "": TOP_LEVEL_KEYS,
    "tasks": TASKS_KEYS,
    "model": MODEL_KEYS,
    "suites.NAME": SUITE_KEYS,
    "suites.NAME.latency": LATENCY_SUITE_KEYS,
    "suites.NAME.sequential": SEQUENTIAL_KEYS,
    "gate": GATE_KEYS,
    "gate.determinism": DETERMINISM_KEYS,
    "thresholds.TASK.METRIC": THRESHOLD_KEYS,
    "report": REPORT_KEYS,
    "report.wandb": WANDB_KEYS,
    "triggers": TRIGGER_KEYS,
    "latency": LATENCY_GATES,
    "latency.GATE": LATENCY_BOUND_KEYS,
}


#: MLflow's model-version stages (deprecated by MLflow since 2.9 in favour of aliases)
MODEL_STAGES = ("None", "Staging", "Production", "Archived")
MODEL_URI_FORMS = "models:/NAME@ALIAS, models:/NAME/VERSION or models:/NAME/STAGE"


@dataclass(frozen=True)
class ModelUri:
    """A parsed ``models:/`` URI: exactly one of ``alias``, ``version`` and ``stage`` is set."""

    name: str
    alias: str | None = None
    version: str | None = None
    stage: str | None = None  #: one of MODEL_STAGES, as MLflow spells it


def model_stage(text: str) -> str | None:
    """``production`` -> ``Production`` (MLflow matches stages case-insensitively); None: no
    stage by that name."""
    return {s.lower(): s for s in MODEL_STAGES}.get(text.lower())


def parse_model_uri(uri: str) -> ModelUri:
    """``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or ``models:/NAME/STAGE`` (Production,
    Staging, Archived, None) -> the parts; ValueError with the reason otherwise."""
    rest = uri[len("models:/") :] if uri.startswith("models:/") else None
    if not rest:
        raise ValueError(f"expected {MODEL_URI_FORMS}")
    if "@" in rest:
        name, _, alias = rest.rpartition("@")
        if name and alias and "/" not in alias:
            return ModelUri(name, alias=alias)
    else:
        name, _, version = rest.rpartition("/")
        if name and version.isdigit():
            return ModelUri(name, version=version)
        stage = model_stage(version)
        if name and stage is not None:
            return ModelUri(name, stage=stage)
    raise ValueError(f"{uri!r}: expected {MODEL_URI_FORMS} (stages: {', '.join(MODEL_STAGES)})")
