"""The training loop: one stage of the paper's four, on the shards, with the dual loss.
Step-driven (`max_steps` / `max_minutes`; epochs roll over), so every DDP rank makes the
same number of steps whatever its share of an epoch. Resume is exact: the same losses,
step for step, as an uninterrupted run. Before the first step, every row of the corpus is
checked (`data.check_rows`) and one forward + backward on the corpus's largest batch shows
whether `data.batch_size` fits in memory; either failure writes nothing to `out`."""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from streamaudio.train import tokens
from streamaudio.train.checkpoint import (
    LOGS_DIR,
    TOKENIZER_DIR,
    check_checkpoint,
    load_state,
    save_checkpoint,
)
from streamaudio.train.config import TrainConfig
from streamaudio.train.data import (
    CorpusScan,
    DataError,
    DataPosition,
    RowSize,
    ShardStreams,
    check_rows,
    make_loader,
    read_streams,
)
from streamaudio.train.data import scan_corpus as scan_shards
from streamaudio.train.layout import Batch, Collate, Layout
from streamaudio.train.loss import LossParts, dual_loss
from streamaudio.train.model import build_model, load_model
from streamaudio.train.stages import Stage, apply_stage, get_stage, param_groups
from streamaudio.train.tokenizer import build_offline_tokenizer, load_tokenizer, special_ids


class TrainError(ValueError):
    """A run that cannot start or go on, with what to do."""


@dataclass(frozen=True)
class StepLog:
    step: int
    epoch: int
    loss: float
    text_loss: float
    control_loss: float
    control_accuracy: float
    lr: float
    steps_per_s: float
    elapsed_s: float


@dataclass(frozen=True)
class TrainResult:
    steps: int
    logs: list[StepLog]
    out: Path


def _distributed() -> tuple[int, int, torch.device]:
    """(rank, world size, device) from torchrun's environment; gloo on CPU, NCCL on GPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    rank = dist.get_rank() if dist.is_initialized() else 0
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def stage_scan(corpus: str, cfg: TrainConfig, stage: Stage, max_chunks: int) -> CorpusScan:
    """The shards this stage trains on: the config's filters if set, else the stage's
    (abilities or subtasks); a stream longer than the model allows is refused up front."""
    if cfg.data.subtasks or cfg.data.abilities:
        scan = scan_shards(corpus, cfg.data.subtasks, cfg.data.abilities)
    else:
        scan = scan_shards(corpus)
        if stage.abilities or stage.subtasks:
            kept = tuple(s for s in scan.shards
                         if s.ability in stage.abilities or s.subtask in stage.subtasks)
            if not kept:
                raise DataError(f"{corpus}: stage {stage.number} ({stage.name}) trains on "
                                f"{', '.join(stage.abilities + stage.subtasks)}; the corpus "
                                f"holds {', '.join(scan.subtasks)}")
            scan = dataclasses.replace(scan, shards=kept)
    for shard in scan.shards:
        if shard.max_chunks > max_chunks:
            raise DataError(f"{shard.path}: a stream of {shard.max_chunks} chunks, more than "
                            f"model.max_chunks={max_chunks} (raise it, or filter the subtask)")
    return scan


def _tokenizer(cfg: TrainConfig, source: Path | None) -> Any:
    if source is not None:
        return load_tokenizer(source / TOKENIZER_DIR, add_tokens_if_missing=False)
    if cfg.model.tokenizer.path is not None:
        return load_tokenizer(cfg.model.tokenizer.path)
    return build_offline_tokenizer(cfg.model.tokenizer.vocab_size,
                                   cache_dir=cfg.model.tokenizer.cache_dir)


def lr_lambda(cfg: TrainConfig) -> Callable[[int], float]:
    warmup, total, floor = cfg.optim.warmup_steps, cfg.optim.total_steps, cfg.optim.min_lr_ratio

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def _gather_positions(position: DataPosition, world: int) -> list[dict[str, int]]:
    if world == 1:
        return [position.to_dict()]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, position.to_dict())
    return out


class _Logs:
    """CSV and TensorBoard under <out>/logs, written by rank 0 only."""

    FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(StepLog))

    def __init__(self, out: Path, enabled: bool) -> None:
        self.enabled = enabled
        self.dir = out / LOGS_DIR
        self.writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.dir.mkdir(parents=True, exist_ok=True)
            self.writer = SummaryWriter(str(self.dir / "tensorboard"))

    def write(self, log: StepLog) -> None:
        if not self.enabled:
            return
        path = self.dir / "train.csv"  # reopened by path: the folder moves on each save
        new = not path.exists()
        with path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, self.FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(dataclasses.asdict(log))
        for key in ("loss", "text_loss", "control_loss", "control_accuracy", "lr"):
            self.writer.add_scalar(f"train/{key}", getattr(log, key), log.step)

    def flush(self) -> None:
        """Before a checkpoint swap moves the folder: TensorBoard's writer thread reopens
        its event file by path on every write (without TensorFlow installed), so a write
        during the swap would find no folder there."""
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _out_of_memory(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, torch.OutOfMemoryError) or "can't allocate memory" in text \
        or "out of memory" in text


def _forward_backward(model: Any, batch: Batch, cfg: TrainConfig, use_bf16: bool) -> LossParts:
    """One step's forward and backward (no optimizer step), as the loop and the preflight
    take it."""
    with torch.autocast(batch.input_ids.device.type, dtype=torch.bfloat16, enabled=use_bf16):
        parts = dual_loss(model, batch, cfg.control_weight)
    parts.total.backward()
    return parts


def _oom_advice(cfg: TrainConfig) -> str:
    return "lower data.batch_size" + ("" if cfg.gradient_checkpointing else
                                      " or set gradient_checkpointing=true")


def _probe(model: torch.nn.Module, batch: Batch, cfg: TrainConfig, use_bf16: bool) -> None:
    """The preflight's step (tests replace it to play out of memory)."""
    _forward_backward(model, batch, cfg, use_bf16)


def _preflight(model: torch.nn.Module, optimizer: torch.optim.Optimizer, scan: CorpusScan,
               sizes: list[RowSize], layout: Layout, collate: Collate, cfg: TrainConfig,
               use_bf16: bool, device: torch.device, world: int) -> None:
    """One forward + backward of the corpus's largest batch, so a batch size that does not
    fit fails here with one clear error rather than some steps (and checkpoints) in. The
    batch is real: the `batch_size` streams with the most chunks, then the most text. A
    synthetic worst case (every chunk answering with `max_response_tokens`) would be ~7x
    longer than any real stream (6.7k tokens vs ~900 at 60 chunks) and refuse batch sizes
    that train fine. Chunks dominate a stream's length (slots + 3 tokens each; a response is
    rare), so these are the longest streams up to ranking by text bytes, not tokens. Run on
    the bare model on every rank (no DDP collective to hang on if one rank fails), so DDP's
    gradient buckets (one more copy of the gradients) are not in it; AdamW's moments are
    (held as empty tensors while a fresh optimizer has none yet). It leaves no trace: no
    optimizer step, gradients dropped, buffers and RNG state restored."""
    largest = sorted(sizes, key=lambda size: (-size.chunks, -size.text_bytes))
    refs = [size.ref for size in largest[: cfg.data.batch_size]]
    batch = collate([layout.encode(record) for record in read_streams(scan, refs)])
    rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    buffers = [buffer.detach().clone() for buffer in model.buffers()]  # e.g. running stats
    moments = [] if optimizer.state else [  # AdamW makes two per parameter at its first step
        torch.empty_like(p) for group in optimizer.param_groups for p in group["params"]
        for _ in range(2)]
    failure: RuntimeError | None = None
    try:
        _probe(model, batch.to(device), cfg, use_bf16)
    except RuntimeError as error:
        if not _out_of_memory(error):
            raise
        failure = error
    finally:
        model.zero_grad(set_to_none=True)
        with torch.no_grad():
            for buffer, saved in zip(model.buffers(), buffers, strict=True):
                buffer.copy_(saved)
        torch.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state(cuda_rng, device)
        del moments
    failed = failure is not None
    if world > 1:  # every rank stops here, with the same error, if any rank is out of memory
        flag = torch.tensor([1.0 if failed else 0.0], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        failed = bool(flag.item())
    if failed:
        where = "this rank" if failure is not None else "another rank"
        raise TrainError(
            f"out of memory before training on {where} ({device}): data.batch_size="
            f"{cfg.data.batch_size} does not fit the corpus's largest batch ({len(refs)} "
            f"streams of up to {largest[0].chunks} chunks, {batch.input_ids.shape[1]} tokens); "
            f"{_oom_advice(cfg)}") from failure


def train(cfg: TrainConfig, corpus: str, stage_number: int, out: Path, *,
          init: Path | None = None, resume: bool = False, max_steps: int | None = None,
          max_minutes: float | None = None,
          on_step: Callable[[StepLog], None] | None = None,
          preflight: bool = True) -> TrainResult:
    """Train one stage. `init`: start from another stage's checkpoint (new optimizer);
    `resume`: continue the run saved in `out` exactly. `preflight`: first try one step of
    the largest batch (about one step's time), to fail on memory before writing anything."""
    if max_steps is None and max_minutes is None:
        raise TrainError("give --max-steps or --max-minutes")
    stage = get_stage(stage_number)
    out = Path(out)
    if resume:
        check_checkpoint(out)
    elif out.exists():
        raise TrainError(f"{out} exists: pass --resume to continue it, or choose another --out")
    if init is not None:
        check_checkpoint(init)
    rank, world, device = _distributed()
    tokenizer = _tokenizer(cfg, out if resume else init)
    ids = special_ids(tokenizer)
    scan = stage_scan(corpus, cfg, stage, cfg.model.max_chunks)
    features = cfg.model.features
    sizes = check_rows(scan, sample_rate=features.sample_rate, chunk_ms=features.chunk_ms,
                       max_chunks=cfg.model.max_chunks)
    state = load_state(out) if resume else None
    if state is not None and state["stage"] != stage.number:
        raise TrainError(f"{out} is a stage {state['stage']} run; resume it with --stage "
                         f"{state['stage']}, or start stage {stage.number} with --init {out}")
    use_bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and device.type == "cuda"
                                           and torch.cuda.is_bf16_supported())
    source = out if resume else init
    if source is not None:
        model = load_model(source, expect=cfg.model)
    else:
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        model = build_model(cfg.model, len(tokenizer), ids[tokens.PAD])
    model.to(device)
    if cfg.gradient_checkpointing:
        kwargs = {"use_reentrant": False}
        if hasattr(model.lm, "activation_checkpointing_enable"):  # transformers >= 5.24
            model.lm.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    new_ids = sorted(ids.values())
    apply_stage(model, stage, new_ids)
    trainable = [p for p in model.parameters() if p.requires_grad]
    lr = cfg.optim.lr if cfg.optim.lr is not None else stage.lr
    optimizer = torch.optim.AdamW(param_groups(model, cfg.optim.weight_decay), lr=lr,
                                  betas=cfg.optim.betas)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg))
    step, position = 0, DataPosition()
    if state is not None:
        if state["world_size"] != world:
            raise TrainError(f"{out} was saved by {state['world_size']} ranks; resume it "
                             f"with the same number (this run has {world})")
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = state["step"]
        position = DataPosition.from_dict(state["positions"][rank])
        torch.set_rng_state(state["rng"][rank])
    else:
        torch.manual_seed(cfg.seed + rank)
    layout = Layout(tokenizer, cfg.model)
    collate = Collate(ids[tokens.PAD], ids[tokens.AUDIO])
    dataset = ShardStreams(scan, batch_size=cfg.data.batch_size, seed=cfg.data.seed,
                           transform=layout.encode, rank=rank, world_size=world,
                           position=position)
    if preflight:
        _preflight(model, optimizer, scan, sizes, layout, collate, cfg, use_bf16, device,
                   world)
    wrapped = model
    if world > 1:
        wrapped = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    logs = _Logs(out, enabled=rank == 0)  # the first write to `out`: every check is behind
    history: list[StepLog] = []
    started = time.monotonic()
    last_save = step
    batches = iter(make_loader(dataset, cfg.data.num_workers, collate))
    target = step + max_steps if max_steps is not None else None
    try:
        while target is None or step < target:
            if max_minutes is not None and _stop_on_time(started, max_minutes, world, device):
                break
            try:
                batch = next(batches)
            except StopIteration:
                position = DataPosition(position.epoch + 1, 0)
                dataset.set_position(position)
                batches = iter(make_loader(dataset, cfg.data.num_workers, collate))
                continue
            position = DataPosition(position.epoch, position.batches + 1)
            batch = batch.to(device)
            try:
                parts = _forward_backward(wrapped if world == 1 else _Forward(wrapped), batch,
                                          cfg, use_bf16)
            except RuntimeError as error:
                if _out_of_memory(error):
                    raise TrainError(f"out of memory at step {step + 1} with data.batch_size="
                                     f"{cfg.data.batch_size}: {_oom_advice(cfg)}") from error
                raise
            torch.nn.utils.clip_grad_norm_(trainable, cfg.optim.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            elapsed = time.monotonic() - started
            log = StepLog(step, position.epoch, float(parts.total.detach()),
                          float(parts.text), float(parts.control),
                          parts.control_correct / max(1, parts.control_tokens),
                          scheduler.get_last_lr()[0], len(history) / max(elapsed, 1e-9) if
                          history else 0.0, elapsed)
            history.append(log)
            if on_step is not None and rank == 0:
                on_step(log)
            if step % cfg.log_every == 0:
                logs.write(log)
            if step - last_save >= cfg.save_every:
                logs.flush()
                _save(out, model, tokenizer, cfg, stage, step, optimizer, scheduler,
                      position, world, rank)
                last_save = step
        if history and history[-1].step % cfg.log_every:
            logs.write(history[-1])
        logs.flush()
        _save(out, model, tokenizer, cfg, stage, step, optimizer, scheduler, position,
              world, rank)
    finally:
        logs.close()
    return TrainResult(step, history, out)


class _Forward:
    """Lets the loss call a DDP-wrapped model's pieces while the forward goes through DDP
    (so gradients are all-reduced): the hidden states are computed by DDP's forward."""

    def __init__(self, ddp: torch.nn.parallel.DistributedDataParallel) -> None:
        self.ddp = ddp

    def hidden_states(self, *args: Any) -> torch.Tensor:
        return self.ddp(*args)

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.ddp.module.head(hidden)


def _stop_on_time(started: float, max_minutes: float, world: int, device: torch.device
                  ) -> bool:
    over = time.monotonic() - started >= max_minutes * 60
    if world == 1:
        return over
    flag = torch.tensor([1.0 if over else 0.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)  # every rank stops at the same step
    return bool(flag.item())


def _save(out: Path, model: torch.nn.Module, tokenizer: Any, cfg: TrainConfig, stage: Stage,
          step: int, optimizer: torch.optim.Optimizer, scheduler: Any, position: DataPosition,
          world: int, rank: int) -> None:
    positions = _gather_positions(position, world)
    rngs = [torch.get_rng_state()]
    if world > 1:
        gathered: list[Any] = [None] * world
        dist.all_gather_object(gathered, rngs[0])
        rngs = gathered
    if rank == 0:
        save_checkpoint(out, model, tokenizer, cfg.to_yaml(), {
            "stage": stage.number, "step": step, "world_size": world,
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "positions": positions, "rng": rngs,
        })
    if world > 1:
        dist.barrier()
