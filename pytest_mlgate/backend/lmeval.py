"""The lm-evaluation-harness backend: the only module importing lm_eval, torch and transformers.

Every heavy import sits inside a function, so importing this module is cheap and a plain
``pytest`` run never pays for torch. The checkpoint is loaded once through transformers (placed
with accelerate's ``device_map`` on a GPU) and handed to lm-eval as a model object; all tasks of
a request run in one ``simple_evaluate`` call.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_mlgate.backend import BackendSpec, EvalRequest
from pytest_mlgate.backend.lmeval_perturb import make_variant, with_variant_hashes
from pytest_mlgate.backend.lmeval_prompts import (
    RenderedRequest,
    build_requests,
    check_chat_template,
    prompt_info,
    render_requests,
    replay_fewshot_draws,
    template_args,
    tokenizer_only_lm,
)
from pytest_mlgate.backend.lmeval_results import run_from_lmeval, subgroup_of
from pytest_mlgate.backend.lmeval_scoring import LMEVAL, hflm_class, scoring_of
from pytest_mlgate.backend.progress import counted, quiet_task_building
from pytest_mlgate.checkpoint import check_checkpoint
from pytest_mlgate.config.schema import LatencyConfig, clean_task, suggest
from pytest_mlgate.errors import BackendError, CheckpointError, UnknownTaskError
from pytest_mlgate.results import EvalRun, PromptInfo, RunInfo, Throughput
from pytest_mlgate.sampling import look_documents, shard, stratified_subset
from pytest_mlgate.tasks import materialize_tasks

# model_args that belong to transformers' from_pretrained; the rest go to lm-eval's HFLM.
FROM_PRETRAINED_KEYS = frozenset(
    {
        "revision",
        "trust_remote_code",
        "attn_implementation",
        "subfolder",
        "low_cpu_mem_usage",
        "device_map",  # "auto": accelerate spreads a model too big for one GPU over all of them
    }
)
# Fields that name a document's stratum for `sample`, in order of preference.
STRATUM_FIELDS = ("category", "subject", "label", "answer", "gold")
# The CPU has no out-of-memory signal for lm-eval's "auto" batch-size probe to stop on.
CPU_AUTO_BATCH_SIZE = 16
# simple_evaluate's default fewshot_random_seed, which the gate leaves in place.
FEWSHOT_SEED = 1234
# Only non-mean aggregations use the bootstrap; lm-eval's 100k default costs seconds for no gain.
BOOTSTRAP_ITERS = 1000


def resolve_device(requested: str) -> str:
    import torch

    if requested != "auto":
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def _subsets(request: EvalRequest) -> bool:
    """Whether ``request`` evaluates fewer than all of each task's documents."""
    return bool(request.sample or request.shard or request.look)


def use_threads(requested: int | None) -> int:
    """Put torch on ``requested`` intra-op threads (None: leave torch's count) and return the
    count it runs on, for the manifest (``mlgate reproduce`` restores it)."""
    import torch

    if requested is not None:
        torch.set_num_threads(requested)
    return int(torch.get_num_threads())


def resolve_dtype(requested: str, device: str) -> Any:
    """``auto`` means bf16 on GPUs that support it, fp16 on older GPUs, fp32 on the CPU."""
    import torch

    if requested != "auto":
        return getattr(torch, requested)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


@contextlib.contextmanager
def _without_env_collection() -> Iterator[None]:
    """Skip lm-eval's per-call environment dump (a `pip list` plus `git describe`, ~1 s).

    The run manifest collects what matters once; lm-eval's copy of it is never read.
    """
    from lm_eval import evaluator

    saved = evaluator.add_env_info, evaluator.get_git_commit_hash
    evaluator.add_env_info = lambda _results: None
    evaluator.get_git_commit_hash = lambda: None
    try:
        yield
    finally:
        evaluator.add_env_info, evaluator.get_git_commit_hash = saved


class LmEvalBackend:
    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec
        self._lm: Any = None
        self._task_dir: tempfile.TemporaryDirectory[str] | None = None
        self._managers: dict[bool, Any] = {}
        self.device: str | None = None
        self.dtype: str | None = None
        self.batch_size: int | str | None = None
        self.threads: int | None = None  # torch's intra-op threads, as the model ran on them
        self.template: str | None = None  # the chat template text applied (None: none)
        self._prompt: PromptInfo | None = None
        # Per task, what its data alone decides, kept between evaluations (a sequential run's
        # looks, determinism passes): its documents, their strata, the whole run's few-shot draws.
        self._docs: dict[str, list[Any]] = {}
        self._strata_of: dict[str, list[str | None]] = {}
        self._draws: dict[str, dict[tuple[int, bool], list[Any]]] = {}

    # -- tasks -------------------------------------------------------------------------------
    def _include_paths(self) -> list[str]:
        if self._task_dir is None:
            self._task_dir = tempfile.TemporaryDirectory(prefix="mlgate-tasks-")
            materialize_tasks(Path(self._task_dir.name))
        return [self._task_dir.name, *map(str, self.spec.include)]

    def _manager(self, with_builtins: bool) -> Any:
        if with_builtins not in self._managers:
            from lm_eval.tasks import TaskManager

            self._managers[with_builtins] = TaskManager(
                include_path=self._include_paths(), include_defaults=with_builtins
            )
        return self._managers[with_builtins]

    def task_manager(self, tasks: Sequence[str]) -> Any:
        """A TaskManager that knows ``tasks``, indexing lm-eval's built-ins only if needed."""
        tasks = list(dict.fromkeys(clean_task(t) for t in tasks))
        local = self._manager(False)
        missing = [t for t in tasks if not local.match_tasks([t])]
        if not missing:
            return local
        full = self._manager(True)
        unknown = [t for t in missing if not full.match_tasks([t])]
        if unknown:
            raise UnknownTaskError(
                "; ".join(
                    f"unknown task {t!r}: not shipped, not in [tasks] include, not an lm-eval "
                    f"task.{suggest(t, full.all_tasks)}"
                    for t in unknown
                )
            )
        return full

    def check(self, tasks: Sequence[str]) -> None:
        if self.spec.model.backend == "hf":
            check_checkpoint(self.spec.checkpoint)
            if self.spec.model.chat_template is not False:  # the tokenizer alone says
                check_chat_template(self._tokenizer(), self.spec.model, self.spec.checkpoint)
        self.task_manager(tasks)

    def _tokenizer(self, **kwargs: Any) -> Any:
        import transformers

        args = self.spec.model.model_args
        trust = bool(kwargs.pop("trust_remote_code", args.get("trust_remote_code", False)))
        try:
            return transformers.AutoTokenizer.from_pretrained(
                self.spec.checkpoint,
                trust_remote_code=trust,
                revision=kwargs.pop("revision", args.get("revision")),
            )
        except (OSError, ValueError) as exc:
            raise CheckpointError(
                f"cannot load the tokenizer of {self.spec.checkpoint!r}: {exc}"
            ) from exc

    def _load_tasks(
        self, manager: Any, names: Sequence[str], request: EvalRequest | None = None
    ) -> tuple[list[Any], dict[str, Any]]:
        """The task (or group) objects to evaluate, and every leaf task by name; a variant
        (``TASK@KIND``) is its task loaded again and perturbed. Loading is where a missing hub
        dataset shows: it is reported per task, with the fix."""
        objects: list[Any] = []
        leaves: dict[str, Any] = {}
        for name in names:
            clean = clean_task(name)
            try:
                built = manager.load([clean])
            except Exception as exc:  # datasets raises many types for "not available"
                raise BackendError(_dataset_problem(manager, clean, exc)) from exc
            groups, tasks = built["groups"], built["tasks"]
            if name != clean:
                if clean not in tasks or groups:
                    raise UnknownTaskError(
                        f"{name!r}: perturbed variants are made of single tasks, and {clean!r} "
                        "is a group or a tag: list its tasks in the suite instead"
                    )
                rate, seed = (request.typo_rate, request.seed) if request else (0.05, 1234)
                variant = make_variant(tasks[clean], name, rate, seed)
                objects.append(variant)
                leaves[name] = variant
                continue
            if name in groups:
                objects.append(groups[name])
            elif name in tasks:
                objects.append(tasks[name])
            else:  # a tag or a glob: its tasks
                objects.extend(tasks.values())
            leaves.update(tasks)
            for group in groups.values():
                for child in group.get_all_tasks():
                    leaves.setdefault(child.task_name, child)
        return objects, leaves

    @staticmethod
    def _apply_fewshot(
        request: EvalRequest, objects: list[Any], leaves: Mapping[str, Any]
    ) -> int | None:
        """Per-task n-shot is set on the task objects; one n for all goes to lm-eval as the CLI's
        --num_fewshot does (which leaves tasks pinned to 0 shots alone)."""
        if not isinstance(request.num_fewshot, Mapping):
            return request.num_fewshot
        for name, shots in request.num_fewshot.items():
            targets = [task for leaf, task in leaves.items() if clean_task(leaf) == name]
            for obj in objects:
                if getattr(obj, "name", None) == name and hasattr(obj, "get_all_tasks"):
                    targets.extend(obj.get_all_tasks())
            for task in targets:
                task.set_config(key="num_fewshot", value=shots)
        return None

    def _documents(self, name: str, task: Any) -> list[Any]:
        """The task's evaluation documents (read once per backend: a task's data files do not
        change during a session)."""
        if name not in self._docs:
            self._docs[name] = list(task.eval_docs)
        return self._docs[name]

    def _strata(self, name: str, task: Any) -> list[str | None]:
        """Each document's stratum: its ``metadata.subgroup_field``, else a known field."""
        if name in self._strata_of:
            return self._strata_of[name]
        docs = self._documents(name, task)
        field = (task.config.metadata or {}).get("subgroup_field")
        if field is None:
            first = docs[0] if docs else {}
            field = next(
                (f for f in STRATUM_FIELDS if isinstance(first, Mapping) and f in first), None
            )
        strata = [
            None if field is None or not isinstance(d, Mapping) else str(d.get(field)) for d in docs
        ]
        self._strata_of[name] = strata
        return strata

    def _subset(
        self,
        leaves: Mapping[str, Any],
        request: EvalRequest,
        planned: dict[str, int] | None = None,
    ) -> dict[str, list[int]]:
        """Per task, the documents evaluated: the stratified sample (or all), then the look of
        a sequential run, then the shard. ``planned`` is told each task's documents before the
        look."""
        chosen = {}
        for name, task in leaves.items():
            strata = self._strata(name, task)
            docs = (
                # a variant evaluates its clean task's documents: the salt is the clean name
                stratified_subset(strata, request.sample, request.seed, clean_task(name))
                if request.sample
                else list(range(len(strata)))
            )
            if planned is not None:
                planned[name] = len(docs)
            if request.look is not None:
                number, looks = request.look
                docs = look_documents(docs, strata, request.seed, clean_task(name), number, looks)
            if request.shard is not None:
                docs = shard(docs, strata, *request.shard)
            chosen[name] = docs
        return chosen

    def cacheable(self) -> bool:
        """Weights on disk (or a hub revision) are fingerprinted; a model behind an API is not."""
        return self.spec.model.backend == "hf"

    def subgroups(self, request: EvalRequest) -> dict[str, dict[str, int]]:
        """Per task, how many of the documents ``request`` evaluates fall in each subgroup
        (the data alone: no model, so threshold items per subgroup exist before the eval)."""
        manager = self.task_manager(request.tasks)
        _, leaves = self._load_tasks(manager, request.tasks, request)
        chosen = self._subset(leaves, request) if _subsets(request) else {}
        counts: dict[str, dict[str, int]] = {}
        for name, task in leaves.items():
            docs = self._documents(name, task)
            found: dict[str, int] = {}
            for index in chosen.get(name, range(len(docs))):
                group = subgroup_of(docs[index], task.config.metadata)
                if group is not None:
                    found[group] = found.get(group, 0) + 1
            counts[name] = found
        return counts

    # -- model -------------------------------------------------------------------------------
    def model(self) -> Any:
        if self._lm is None:
            self._lm = self._load()
        return self._lm

    def _load(self) -> Any:
        cfg = self.spec.model
        check_checkpoint(self.spec.checkpoint)
        self.device = resolve_device(cfg.device)
        self.threads = use_threads(cfg.threads)
        if cfg.backend != "hf":
            return self._load_registered(cfg.backend)
        import transformers

        dtype = resolve_dtype(cfg.dtype, self.device)
        self.dtype = str(dtype).removeprefix("torch.")
        args = dict(cfg.model_args)
        load_kwargs = {k: args.pop(k) for k in list(args) if k in FROM_PRETRAINED_KEYS}
        load_kwargs.setdefault("trust_remote_code", False)  # never on unless the user says so
        if self.device.startswith("cuda"):
            load_kwargs.setdefault("device_map", self.device)  # accelerate places the weights
        transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            model: Any = transformers.AutoModelForCausalLM.from_pretrained(
                self.spec.checkpoint, dtype=dtype, **load_kwargs
            )
        except Exception as exc:  # OSError, ValueError, safetensors' own error on a cut file...
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            raise CheckpointError(
                f"cannot load checkpoint {self.spec.checkpoint!r} ({type(exc).__name__}: {first}); "
                "its weight files may be truncated or corrupt (an interrupted copy or download), "
                "or written for another model class"
            ) from exc
        if "device_map" not in load_kwargs:
            model = model.to(self.device)
        model.eval()
        batch_size = cfg.batch_size
        if batch_size == "auto" and not self.device.startswith("cuda"):
            batch_size = CPU_AUTO_BATCH_SIZE
        self.batch_size = batch_size
        tokenizer = self._tokenizer(
            trust_remote_code=load_kwargs["trust_remote_code"], revision=load_kwargs.get("revision")
        )
        self.template = check_chat_template(tokenizer, cfg, self.spec.checkpoint)
        args.setdefault("chat_template_args", template_args(cfg, self.template))
        model_class = hflm_class(cfg.scoring)  # HFLM, or HFLM with shared-context scoring
        lm = model_class(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, **args)
        self._prompt = prompt_info(lm, cfg, self.template)
        return lm

    def _load_registered(self, name: str) -> Any:
        """Any other lm-eval model type (vllm, local-completions, ...), built by lm-eval."""
        from lm_eval.api.registry import get_model

        args = dict(self.spec.model.model_args)
        if "pretrained" not in args and "model" not in args:
            api = name.endswith(("-completions", "-chat"))
            args["model" if api else "pretrained"] = self.spec.checkpoint
        self.batch_size = self.spec.model.batch_size
        try:
            return get_model(name).create_from_arg_obj(
                args, {"batch_size": self.spec.model.batch_size, "device": self.device}
            )
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"cannot create lm-eval model {name!r}: {exc}") from exc

    def render(self, task: str, request: EvalRequest, limit: int) -> list[RenderedRequest]:
        """The first ``limit`` documents' requests of ``task`` as a run gives them to the model
        (chat template, system instruction, few-shot examples, BOS), without loading weights."""
        tokenizer = self._tokenizer()
        template = check_chat_template(tokenizer, self.spec.model, self.spec.checkpoint)
        lm = tokenizer_only_lm(tokenizer, self.spec.model, template)
        manager = self.task_manager([task])
        objects, leaves = self._load_tasks(manager, [task])
        num_fewshot = self._apply_fewshot(request, objects, leaves)
        rendered = []
        for leaf in leaves.values():
            _as_in_a_run(leaf, num_fewshot)
            with quiet_task_building():
                rendered += render_requests(leaf, lm, self.spec.model, template, limit)
        return rendered

    def latency(
        self,
        request: EvalRequest,
        settings: LatencyConfig,
        clock: Callable[[], float] = time.perf_counter,
    ) -> list[float]:
        """Single-request generation latency in ms on the generative documents of
        ``request``'s tasks (their requests as a run builds them, ``max_new_tokens`` each),
        the first ``warmup`` requests left out."""
        from lm_eval.api.instance import Instance

        lm = self.model()
        manager = self.task_manager(request.tasks)
        objects, leaves = self._load_tasks(manager, request.tasks, request)
        num_fewshot = self._apply_fewshot(request, objects, leaves)
        needed = settings.requests + settings.warmup
        pending: list[Any] = []
        for leaf in leaves.values():
            if leaf.get_config("output_type") != "generate_until":
                continue
            _as_in_a_run(leaf, num_fewshot)
            with quiet_task_building():
                pending += build_requests(leaf, lm, self.spec.model, self.template, needed)
        if not pending:
            raise BackendError(
                f"latency: none of {', '.join(request.tasks)} is a generative task "
                "(output_type: generate_until): nothing to time"
            )
        samples = []
        for i in range(needed):
            instance = pending[i % len(pending)]
            options = {**dict(instance.args[1]), "max_gen_toks": settings.max_new_tokens}
            single = Instance("generate_until", instance.doc, (instance.args[0], options), 0)
            started = clock()
            lm.generate_until([single], disable_tqdm=True)
            took = clock() - started
            if i >= settings.warmup:
                samples.append(took * 1000)
        return samples

    # -- evaluation --------------------------------------------------------------------------
    def evaluate(self, request: EvalRequest) -> EvalRun:
        manager = self.task_manager(request.tasks)
        lm = self.model()
        from lm_eval import evaluator

        cfg = self.spec.model
        started = time.perf_counter()  # the model is loaded: evaluation time from here
        objects, leaves = self._load_tasks(manager, request.tasks, request)
        num_fewshot = self._apply_fewshot(request, objects, leaves)
        planned: dict[str, int] = {}
        samples = self._subset(leaves, request, planned) if _subsets(request) else None
        for name, chosen in (samples or {}).items():
            replay_fewshot_draws(
                leaves[name],
                chosen,
                self._draws.setdefault(name, {}),
                self._documents(name, leaves[name]),
            )
        meter: dict[str, Throughput] = {}
        if hasattr(lm, "scored_by"):
            lm.scored_by = {}  # this evaluation's paths only
        try:
            with (
                _without_env_collection(),
                counted(lm, request.progress, meter),
                _batch(lm, request),
                _one_process(),
            ):
                out = evaluator.simple_evaluate(
                    model=lm,
                    tasks=objects,
                    task_manager=manager,
                    num_fewshot=num_fewshot,
                    samples=samples,
                    log_samples=True,
                    bootstrap_iters=BOOTSTRAP_ITERS,
                    apply_chat_template=cfg.chat_template,
                    system_instruction=cfg.system_instruction,
                    fewshot_as_multiturn=cfg.multiturn,
                    gen_kwargs=dict(cfg.gen_kwargs) or None,
                )
        except (ConnectionError, FileNotFoundError) as exc:
            raise BackendError(
                f"a dataset of {', '.join(request.tasks)} is not available: {exc}. Tasks that "
                "read hub datasets need them in the datasets cache (run once with network, or "
                "point HF_DATASETS_CACHE at a cache that has them)."
            ) from exc
        if out is None:
            raise BackendError("lm-eval returned no results (not the main process?)")
        info = replace(self._info(request), throughput=tuple(meter.values()))
        run = run_from_lmeval(out, info, getattr(lm, "tok_encode", None))
        scored = scoring_of(lm)
        paths = {name: scored.get(name, LMEVAL) for name in run.tasks}
        looked = planned if request.look is not None else {}  # the whole size, for the looks
        spent = time.perf_counter() - started
        run = replace(run, info=replace(run.info, scoring=paths, planned=looked, seconds=spent))
        return with_variant_hashes(run, request)

    def _info(self, request: EvalRequest | None = None) -> RunInfo:
        override = None if request is None else request.batch_size
        return RunInfo(
            backend=self.spec.model.backend,
            device=self.device,
            dtype=self.dtype,
            batch_size=self.batch_size if override is None else override,
            gpus=_gpu_names(self.device),
            prompt=self._prompt,
            threads=self.threads,
        )

    def close(self) -> None:
        self._lm = None
        self._managers.clear()
        self._docs.clear()
        self._strata_of.clear()
        self._draws.clear()
        if self._task_dir is not None:
            self._task_dir.cleanup()
            self._task_dir = None


@contextlib.contextmanager
def _one_process() -> Iterator[None]:
    """lm-eval returns results only where ``LOCAL_RANK`` is 0. The plugin runs it on each rank
    of a data parallel launch as a single process over that rank's shard (the model object is
    not spread by lm-eval), so each rank reads as local rank 0 while it evaluates."""
    saved = os.environ.get("LOCAL_RANK")
    if saved in (None, "0"):
        yield
        return
    os.environ["LOCAL_RANK"] = "0"
    try:
        yield
    finally:
        os.environ["LOCAL_RANK"] = saved


def _as_in_a_run(leaf: Any, num_fewshot: int | None) -> None:
    """The n-shot and few-shot seed a run gives a task, on a task built outside a run."""
    if num_fewshot is not None:
        leaf.set_config(key="num_fewshot", value=num_fewshot)
    elif leaf.get_config("num_fewshot") is None:
        leaf.set_config(key="num_fewshot", value=0)  # lm-eval's default, as in a run
    leaf.set_fewshot_seed(seed=FEWSHOT_SEED)


@contextlib.contextmanager
def _batch(lm: Any, request: EvalRequest) -> Iterator[None]:
    """The request's batch size on the model for one evaluation (HFLM reads
    ``batch_size_per_gpu``), the configured one back afterwards."""
    if request.batch_size is None or not hasattr(lm, "batch_size_per_gpu"):
        yield
        return
    saved = lm.batch_size_per_gpu
    lm.batch_size_per_gpu = request.batch_size
    try:
        yield
    finally:
        lm.batch_size_per_gpu = saved


def _gpu_names(device: str | None) -> tuple[str, ...]:
    """The models of the GPUs a CUDA run used (torch is loaded by then)."""
    if device is None or not device.startswith("cuda"):
        return ()
    import torch

    return tuple(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))


# datasets' builders that read local files rather than a hub repository.
LOCAL_BUILDERS = ("json", "csv", "parquet", "text", "arrow", "pandas")


def _dataset_problem(manager: Any, name: str, exc: Exception) -> str:
    """Which dataset a task could not load, and how to make it available on the runner."""
    entry = manager.task_index.get(name)
    config = (getattr(entry, "cfg", None) or {}) if entry is not None else {}
    path, subset = config.get("dataset_path"), config.get("dataset_name")
    if path in LOCAL_BUILDERS:
        files = (config.get("dataset_kwargs") or {}).get("data_files") or "?"
        return (
            f"task {name!r} cannot load its local {path} data {files} ({type(exc).__name__}: "
            f"{str(exc).strip()[:200]}): check the files exist, are readable and hold at least "
            "one document (paths are absolute or relative to the current directory)"
        )
    what = f"the hub dataset {path!r}" if path else "its dataset"
    if path and subset:
        what += f" (config {subset!r})"
    offline = "1" in (os.environ.get("HF_DATASETS_OFFLINE"), os.environ.get("HF_HUB_OFFLINE"))
    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    args = f"{path!r}" + (f", {subset!r}" if subset else "") if path else "..."
    return (
        f"task {name!r} cannot load {what} ({type(exc).__name__}: {detail}). It is not in the "
        f"local datasets cache{' and offline mode forbids downloading it' if offline else ''}. "
        "Cache it once on a machine with network "
        f'(python -c "import datasets; datasets.load_dataset({args})") and point '
        "HF_DATASETS_CACHE (or HF_HOME) at that cache on the runner."
    )
