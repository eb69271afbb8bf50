"""The one optimisation loop (base training, fine-tuning and FIP paths all run through
run_steps), mini-batch streams, and evaluation."""

import copy
import time
from pathlib import Path
from typing import Callable

import torch
from torch.nn import functional as F
from torch.optim.swa_utils import update_bn
from tqdm import tqdm

from fipbench.data.vision import random_crop_flip, to_input


class NonFiniteLoss(FloatingPointError):
    """A NaN or infinite loss: the job stops and writes no metrics."""


class BatchStream:
    """Endless shuffled mini-batches over uint8 images x [N, H, W(, C)] and labels y [N].

    next() gives (inputs float [B, C, H, W] in [0, 1], labels + label_offset [B]);
    a new permutation is drawn from `generator` at the start of every epoch. transform
    turns x's rows into inputs: to_input for images; None passes them as they are (token
    ids [B, T]). augment: each batch's uint8 images are randomly cropped and flipped first
    (fipbench.data.vision.random_crop_flip)."""

    def __init__(self, x, y, batch_size: int, generator: torch.Generator, label_offset: int = 0,
                 transform: Callable | None = to_input, augment: bool = False):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.generator, self.label_offset = generator, label_offset
        convert = transform or (lambda rows: rows)
        self.transform = (lambda rows: convert(random_crop_flip(rows, generator))) if augment else convert
        self.order, self.position = None, len(y)

    @property
    def steps_per_epoch(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def __iter__(self):
        return self

    def __next__(self):
        if self.position >= len(self.y):
            self.order = torch.randperm(len(self.y), generator=self.generator).to(self.y.device)
            self.position = 0
        index = self.order[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return self.transform(self.x[index]), self.y[index] + self.label_offset


def supervised_loss(stream: BatchStream, label_smoothing: float = 0.0) -> Callable:
    """Loss function for run_steps: cross-entropy of the model on the stream's next batch
    (with label_smoothing, the weight spread uniformly over the classes)."""
    def loss_fn(model):
        inputs, labels = next(stream)
        loss = F.cross_entropy(model(inputs), labels, label_smoothing=label_smoothing)
        return loss, {"loss": loss.detach()}
    return loss_fn


def sgd_update(optimizer: torch.optim.Optimizer) -> Callable:
    """Update function for run_steps: backward, then one optimiser step."""
    def update(loss):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return update


class PathIntegral:
    """The path integral of a training run that synaptic intelligence weighs the weights by
    (Zenke et al. 2017): per parameter of model, its flat start weights [n] and the sum over
    steps of g * (w after - w before) [n], g the gradient the step used (left in .grad by the
    update, after any clipping). integrating(update) wraps an update function; it only
    reads, so the trained weights are those the update alone gives."""

    def __init__(self, model):
        self.parameters = dict(model.named_parameters())
        self.start = {name: p.detach().flatten().clone() for name, p in self.parameters.items()}
        self.integral = {name: torch.zeros_like(w) for name, w in self.start.items()}

    def integrating(self, update: Callable) -> Callable:
        def update_and_integrate(loss):
            before = {name: p.detach().clone() for name, p in self.parameters.items()}
            update(loss)
            with torch.no_grad():
                for name, p in self.parameters.items():
                    if p.grad is not None:
                        self.integral[name] += (p.grad * (p - before[name])).flatten()
        return update_and_integrate

    def save_beside(self, checkpoint: Path) -> None:
        """{"start": {name: [n]}, "integral": {name: [n]}} (CPU tensors) to the file of
        path_integral_beside(checkpoint), the network the training ended on."""
        torch.save({"start": {name: w.cpu() for name, w in self.start.items()},
                    "integral": {name: w.cpu() for name, w in self.integral.items()}},
                   path_integral_beside(checkpoint))


def path_integral_beside(checkpoint: Path) -> Path:
    """Where the job that trained the network of checkpoint keeps its PathIntegral."""
    return Path(checkpoint).with_name("path_integral.pt")


class ClippedSGD(torch.optim.SGD):
    """SGD whose step first scales the gradient of all its parameters together down to a
    Euclidean norm of at most max_norm (torch.nn.utils.clip_grad_norm_), after whatever a
    method did to the gradient (a projection) and before the momentum buffer sees it."""

    def __init__(self, parameters, max_norm: float, **sgd):
        super().__init__(parameters, **sgd)
        self.max_norm = max_norm

    def step(self, closure=None):
        gradients = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
        torch.nn.utils.clip_grad_norm_(gradients, self.max_norm)
        return super().step(closure)


def recipe_optimizer(parameters, sgd: dict) -> torch.optim.SGD:
    """SGD with a training recipe's lr and momentum, and its nesterov, weight_decay and
    clip_grad_norm where it sets them (off otherwise)."""
    settings = {"lr": sgd["lr"], "momentum": sgd["momentum"], "nesterov": sgd.get("nesterov", False),
                "weight_decay": sgd.get("weight_decay", 0.0)}
    if sgd.get("clip_grad_norm") is None:
        return torch.optim.SGD(parameters, **settings)
    return ClippedSGD(parameters, sgd["clip_grad_norm"], **settings)


def recipe_stream(task: dict, sgd: dict, generator: torch.Generator) -> BatchStream:
    """The batches of a training recipe over task["train"]: its batch size, augmented when it says so."""
    return BatchStream(*task["train"], sgd["batch_size"], generator, augment=sgd.get("augment", False))


def recipe_loss(stream: BatchStream, sgd: dict) -> Callable:
    """supervised_loss on stream with the recipe's label smoothing (0 unless it sets one)."""
    return supervised_loss(stream, sgd.get("label_smoothing", 0.0))


def cosine_decay(optimizer: torch.optim.Optimizer, sgd: dict, n_steps: int):
    """A cosine decay of the learning rate from sgd["lr"] to sgd["lr_end"] over n_steps
    scheduler steps; None when sgd has no lr_end (a constant rate)."""
    if "lr_end" not in sgd:
        return None
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_steps, eta_min=sgd["lr_end"])


def scheduled(update: Callable, optimizer: torch.optim.Optimizer, sgd: dict, n_steps: int) -> Callable:
    """update as it is, or, when sgd has lr_end, followed by one step of its cosine decay."""
    decay = cosine_decay(optimizer, sgd, n_steps)
    if decay is None:
        return update

    def update_and_decay(loss):
        update(loss)
        decay.step()
    return update_and_decay


class RecipeTraining:
    """n_steps of a training recipe on task["train"] = (x uint8, y), which can stop after
    any step and go on in another process. sgd: batch_size, lr, momentum; optional lr_end
    (cosine decay over the n_steps), nesterov, weight_decay, label_smoothing, augment,
    clip_grad_norm (config/schema.json, "recipe"). update(optimizer) -> update function
    replaces plain sgd_update (for example a masked one). state() holds everything the
    remaining steps depend on (weights, optimizer, schedule, batch order and position,
    generator), so that training in parts gives the network training in one go gives."""

    def __init__(self, model, task: dict, sgd: dict, n_steps: int, generator: torch.Generator, update=None):
        self.model, self.sgd, self.n_steps, self.done, self.generator = model, sgd, n_steps, 0, generator
        self.stream = recipe_stream(task, sgd, generator)
        self.optimizer = recipe_optimizer(model.parameters(), sgd)
        self.decay = cosine_decay(self.optimizer, sgd, n_steps)
        self.loss_fn, self.update = recipe_loss(self.stream, sgd), (update or sgd_update)(self.optimizer)

    def step(self, loss) -> None:
        self.update(loss)
        if self.decay is not None:
            self.decay.step()

    def run(self, steps: int, desc: str = "train") -> None:
        """The next `steps` steps (no more than remain)."""
        steps = min(steps, self.n_steps - self.done)
        run_steps(self.model, steps, self.loss_fn, self.step, desc=desc)
        self.done += steps

    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "decay": None if self.decay is None else self.decay.state_dict(),
                "generator": self.generator.get_state(), "order": self.stream.order,
                "position": self.stream.position, "done": self.done}

    def load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.decay is not None:
            self.decay.load_state_dict(state["decay"])
        self.generator.set_state(state["generator"])
        self.stream.order, self.stream.position, self.done = state["order"], state["position"], state["done"]


def train_on_task(model, task: dict, sgd: dict, n_steps: int, generator: torch.Generator, update=None,
                  desc: str = "train") -> int:
    """n_steps of a training recipe (RecipeTraining) in one go. Returns n_steps."""
    RecipeTraining(model, task, sgd, n_steps, generator, update).run(n_steps, desc)
    return n_steps


def train_part(training: RecipeTraining, part: int, parts: int, state_dir: Path, keep_at: int | None = None,
               desc: str = "train", save_every: int = 500) -> dict:
    """Part `part` (0, 1, ..., parts - 1) of training's steps, split into parts of equal
    length: resumed from state_dir/part<part - 1>.pt, saved to state_dir/part<part>.pt
    unless it is the last. keep_at: a step at which a copy of the weights is kept (an
    iterate LTH rewinds to), carried from part to part. Every save_every steps the part's
    progress goes to state_dir/part<part>.progress.pt, and a part cut off on the way resumes
    from there (the same network as an uncut part) if it starts from the same recipe, step
    count and previous part's file; the file goes when the part ends. Returns {"kept": that
    copy or None, "seconds": [wall seconds of each part so far, work lost to cuts left out]}."""
    began = time.perf_counter()
    device = next(training.model.parameters()).device
    state_dir = Path(state_dir)
    previous = state_dir / f"part{part - 1}.pt" if part > 0 else None
    progress_file = state_dir / f"part{part}.progress.pt"
    origin = {"sgd": training.sgd, "n_steps": training.n_steps, "parts": parts,
              "previous": None if previous is None else [previous.stat().st_size, previous.stat().st_mtime_ns]}
    carried, elapsed, state = {"kept": None, "seconds": []}, 0.0, None
    if progress_file.exists():
        state = torch.load(progress_file, map_location=device, weights_only=False)
        if state["origin"] == origin:
            print(f"{desc} part {part + 1}/{parts}: resuming at step {state['training']['done']}", flush=True)
        else:
            state = None
    if state is None and previous is not None:
        state = torch.load(previous, map_location=device, weights_only=False)
    if state is not None:
        training.load_state(state["training"])
        carried, elapsed = state["carried"], state.get("elapsed", 0.0)
    end = round(training.n_steps * (part + 1) / parts)
    kept_here = keep_at is not None and carried["kept"] is None and training.done <= keep_at < end
    stops = sorted({*range(training.done + save_every, end, save_every), end, *([keep_at] if kept_here else [])})
    for stop in stops:
        training.run(stop - training.done, desc=f"{desc} part {part + 1}/{parts}, to step {stop}")
        if kept_here and stop == keep_at:
            carried["kept"] = copy.deepcopy(training.model.state_dict())
        if stop < end:
            save_atomically({"training": training.state(), "carried": carried, "origin": origin,
                             "elapsed": elapsed + time.perf_counter() - began}, progress_file)
    carried["seconds"] = carried["seconds"] + [elapsed + time.perf_counter() - began]
    if part < parts - 1:
        save_atomically({"training": training.state(), "carried": carried}, state_dir / f"part{part}.pt")
    progress_file.unlink(missing_ok=True)
    return carried


def save_atomically(obj, path: Path) -> None:
    """torch.save(obj, path) through a temporary file beside it, so that path is either
    the old file or the whole new one, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.tmp")
    torch.save(obj, partial)
    partial.replace(path)


def epoch_steps(task: dict, sgd: dict) -> int:
    """Optimiser steps of sgd["epochs"] epochs over the task's training split."""
    return -(-len(task["train"][1]) // sgd["batch_size"]) * sgd["epochs"]


def with_fresh_batch_norm(model, images: torch.Tensor, augment: bool = False, batch_size: int = 500):
    """model itself when it has no batch norm; else a copy in eval mode whose running
    statistics are re-estimated (update_bn, cumulative average) on uint8 images [N, ...],
    so that a network whose weights moved is not judged with stale statistics. augment: for
    a network trained on augmented batches, the images are randomly cropped and flipped
    first (random_crop_flip, always the same draw: a generator seeded 0), since its layers
    expect the statistics of such batches (the padded borders shift them; unaugmented
    images cost the paper-scale ResNet-20 2.2 points, docs/deviations.md)."""
    if not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return model
    if augment:
        images = random_crop_flip(images, torch.Generator().manual_seed(0))
    fresh = copy.deepcopy(model)
    update_bn([to_input(images[i:i + batch_size]) for i in range(0, len(images), batch_size)], fresh)
    return fresh.eval()


def flat_parameters(model) -> torch.Tensor:
    """All parameters of model as one detached vector [P]."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


CHECK_SECONDS = 30.0  # longest wall time between two reads of the non-finite-loss flag


def run_steps(model, n_steps: int, loss_fn: Callable, update: Callable, record: Callable | None = None,
              record_every: int = 0, checkpoint_dir: Path | None = None, checkpoint_every: int = 0,
              desc: str = "train", train_mode: bool = True, clock: dict | None = None) -> list[dict]:
    """Take n_steps optimisation steps; return the records taken along the way.

    loss_fn(model) -> (loss tensor, {name: detached scalar tensor}); update(loss) changes
    the weights. Every record_every steps (and at steps 0 and n_steps) a record holds the
    step, the loss parts (floats), the Euclidean distance |w - w0| from the start, the path
    length (sum of the steps' Euclidean lengths), the turning angle (sum over steps of the
    angle in radians between consecutive steps) and record(model)'s entries; record is
    called with the model in eval mode. Checkpoints (state_dict) go to
    checkpoint_dir/step<k>.pt every checkpoint_every steps. train_mode=False takes the
    steps with the model in eval mode (batch norm uses and keeps its running statistics),
    as a FIP walk must when its reference outputs were computed in eval mode. clock, when
    given, gets the seconds spent in loss_fn and update added to clock["seconds"] (a wall
    time: for provenance, never for the metrics; on a GPU it times the launches).

    The path statistics cost a copy of the weights per step: they are kept only when
    records are taken (record_every > 0). Nothing is read back from the device between
    record points: loss parts, path length, turning angle and the step of the first
    non-finite loss stay there. The latter is read at records, checkpoints, the end, and
    at most once per CHECK_SECONDS of wall time in between; a non-finite loss then raises
    NonFiniteLoss naming its step."""
    start = previous = flat_parameters(model)
    path_length = torch.zeros((), dtype=torch.float64, device=start.device)
    turning = torch.zeros((), dtype=torch.float64, device=start.device)  # radians
    first_nonfinite = torch.zeros((), dtype=torch.int64, device=start.device)  # 0: none yet
    last_step = None
    records = []
    checked = time.perf_counter()

    def check_finite():
        nonlocal checked
        checked = time.perf_counter()
        if first_nonfinite.item():
            raise NonFiniteLoss(f"{desc}: non-finite loss at step {first_nonfinite.item()}")

    def take_record(step, parts):
        check_finite()
        entry = {"step": step, **{name: value.item() for name, value in parts.items()},
                 "weight_distance": (flat_parameters(model) - start).norm().item(),
                 "path_length": path_length.item(), "turning_angle": turning.item()}
        if record is not None:
            model.eval()
            entry.update(record(model))
        records.append(entry)

    if record_every:
        take_record(0, {})
    for step in tqdm(range(1, n_steps + 1), desc=desc, mininterval=10, ascii=True):
        began = time.perf_counter()
        model.train(train_mode)
        loss, parts = loss_fn(model)
        first_nonfinite.masked_fill_(~torch.isfinite(loss.detach()) & (first_nonfinite == 0), step)
        update(loss)
        if clock is not None:
            clock["seconds"] = clock.get("seconds", 0.0) + time.perf_counter() - began
        if record_every:
            current = flat_parameters(model)
            step_vector, previous = current - previous, current
            path_length += step_vector.norm()
            if last_step is not None:
                cosine = F.cosine_similarity(step_vector, last_step, dim=0)
                turning += torch.arccos(cosine.clamp(-1.0, 1.0))
            last_step = step_vector
        if record_every and (step % record_every == 0 or step == n_steps):
            take_record(step, parts)
        elif time.perf_counter() - checked > CHECK_SECONDS:
            check_finite()
        if checkpoint_dir is not None and checkpoint_every and step % checkpoint_every == 0:
            check_finite()
            checkpoint_dir.mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), checkpoint_dir / f"step{step}.pt")
    check_finite()
    model.eval()
    return records


@torch.no_grad()
def predict(model, x, batch_size: int = 1000) -> torch.Tensor:
    """Logits [N, classes] (float32) of model in eval mode on uint8 images x [N, H, W(, C)], in batches."""
    model.eval()
    return torch.cat([model(to_input(x[i:i + batch_size])).float() for i in range(0, len(x), batch_size)])


def accuracy(logits: torch.Tensor, labels: torch.Tensor, classes=None) -> float:
    """Accuracy in % of logits [N, C] against labels [N]. classes (a sequence of output
    units) restricts the argmax to them (task-incremental, or the classes seen so far);
    None takes it over all outputs."""
    if classes is None:
        predicted = logits.argmax(1)
    else:
        units = torch.as_tensor(list(classes), device=logits.device)
        predicted = units[logits[:, units].argmax(1)]
    return 100.0 * (predicted == labels).float().mean().item()
