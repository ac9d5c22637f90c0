"""Training loops with early stopping on a validation split, shared by every neural head.

Inputs are tuples of numpy arrays so that single-input models (``(N, 1, H, W)`` or ``(N, F)``) and
the two-input late-fusion model use the same loop. The best weights (lowest validation loss) are
restored at the end. Progress goes to an optional callback; this module never prints.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from engine.models.metrics import pearson_r

EpochCallback = Callable[[int, int, float, float], None]
"""Called after each epoch with ``(epoch, max_epochs, train_loss, val_loss)``."""


SCHEDULES = ("constant", "onecycle")
SELECTIONS = ("loss", "balanced_accuracy", "pearson_r", "last")


@dataclass(frozen=True)
class TrainConfig:
    """Hold the optimisation settings (AdamW: decoupled weight decay; mini-batches, early stopping on validation loss).

    Attributes
    ----------
    epochs : int, default 30
        Maximum number of passes over the training data.
    batch_size : int, default 16
        Clips per mini-batch (validation runs in batches four times as large). A last batch of one
        clip is skipped: BatchNorm cannot normalise it.
    learning_rate : float, default 1e-3
        AdamW learning rate (the peak rate with ``"onecycle"``).
    weight_decay : float, default 0.0
        AdamW decoupled weight decay.
    patience : int, default 10
        Epochs without improvement of the selection criterion before training stops (constant
        schedule only).
    seed : int, default 0
        Seed of the batch order and of the augmentations.
    device : str, default "cpu"
        Torch device, or ``"auto"`` (see :func:`resolve_device`).
    schedule : str, default "constant"
        ``"constant"`` learning rate, or ``"onecycle"`` (Smith & Topin 2019: warm up to
        ``learning_rate`` over the first 30 % of the steps, then cosine annealing towards 0 over
        ``epochs``). With ``onecycle`` early stopping still keeps the best epoch but does not stop:
        the schedule only ends at its last epoch.
    time_shift : bool, default False
        Augment every image input ``(N, 1, H, W)`` of a training batch by a random circular
        shift along time (the last axis), one shift per batch: music has no fixed phase within an
        excerpt, and the model sees each clip at many offsets.
    select : str, default "loss"
        Which epoch's weights are kept, and what early stopping watches: the lowest validation
        ``"loss"``, or (classifiers, integer targets) the highest validation
        ``"balanced_accuracy"`` (mean recall over classes, ties to the earlier epoch). On a small
        validation set a classifier's loss is often lowest at an uninformative first epoch, before
        it grows confident, so loss selection can keep a model that predicts one class.
        Regressors may select on the highest mean validation ``"pearson_r"`` over targets: on a
        few validation songs the loss of a barely trained, near-constant first epoch is often
        the lowest, so loss selection keeps a model that has learned nothing. ``"last"`` keeps the
        final epoch: with ``"onecycle"`` its weights are the annealed end of the schedule, and no
        choice is made on a few noisy validation songs.
    transpose : bool, default False
        Augment every chromagram input ``(N, 1, 12, T)`` of a training batch by rolling
        its 12 pitch classes circularly by a random number of semitones, one per batch: a
        song's emotion does not depend on its key, and a few dozen training songs cover few keys.
        Other inputs (spectrograms, vectors) pass unchanged.
    spec_augment : bool, default False
        SpecAugment (Park et al. 2019) on every image input of a training batch at least 32 pixels
        high: each clip gets two frequency bands (rows) and two time spans (columns), each up to
        1/8 of the image, set to that clip's mean value. It asks the model not to rest on any one
        band or moment of the clip. Chromagrams and vectors pass unchanged.
    mixup : float, default 0.0
        Mixup (Zhang et al. 2018) with this Beta(alpha, alpha) parameter; 0 turns it off. Each
        training batch is blended with a shuffled copy of itself by one weight ``lam`` drawn per
        batch, and the loss is ``lam * loss(y) + (1 - lam) * loss(y_shuffled)``: for
        cross-entropy that is the loss of the blended labels, for regression targets close to it.

    Raises
    ------
    ValueError
        ``schedule`` is not one of :data:`SCHEDULES` or ``select`` not one of :data:`SELECTIONS`.

    Examples
    --------
    >>> config = TrainConfig(epochs=5, schedule="onecycle", select="balanced_accuracy")
    >>> config.batch_size, config.schedule
    (16, 'onecycle')
    >>> TrainConfig(schedule="cosine")
    Traceback (most recent call last):
    ...
    ValueError: schedule must be one of ('constant', 'onecycle'), got 'cosine'
    """

    epochs: int = 30
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 10
    seed: int = 0
    device: str = "cpu"
    schedule: str = "constant"
    time_shift: bool = False
    select: str = "loss"
    transpose: bool = False
    spec_augment: bool = False
    mixup: float = 0.0

    def __post_init__(self) -> None:
        """Check ``schedule``, ``select`` and ``mixup``."""
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.select not in SELECTIONS:
            raise ValueError(f"select must be one of {SELECTIONS}, got {self.select!r}")
        if not self.mixup >= 0:
            raise ValueError(f"mixup must be 0 (off) or a positive Beta parameter, got {self.mixup!r}")


@dataclass
class TrainResult:
    """Hold what a training run returns: the model with its best weights restored, and its history.

    Attributes
    ----------
    model : torch.nn.Module
        The trained model, in eval mode, with the weights of the best epoch.
    best_epoch : int
        The epoch (from 1) whose weights were kept; 0 when none improved on the initial weights
        (e.g. every criterion NaN), which are then kept.
    best_val_loss : float
        Validation loss of that epoch.
    seconds : float
        Wall-clock duration of the training loop, in seconds.
    history : list of dict
        One record per epoch: ``epoch``, ``train_loss``, ``val_loss`` and, when selected on,
        ``val_balanced_accuracy`` or ``val_pearson_r``.

    Examples
    --------
    >>> from torch import nn
    >>> result = TrainResult(model=nn.Linear(2, 1), best_epoch=3, best_val_loss=0.25, seconds=1.5)
    >>> result.best_epoch, result.history
    (3, [])
    """

    model: nn.Module
    best_epoch: int
    best_val_loss: float
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def resolve_device(device: str) -> str:
    """Resolve a device name: ``"auto"`` becomes ``"cuda"`` when a GPU is visible, else ``"cpu"``.

    Parameters
    ----------
    device : str
        ``"auto"`` or a torch device name.

    Returns
    -------
    str
        The device to use; names other than ``"auto"`` pass through unchanged.

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    >>> resolve_device("auto") in ("cuda", "cpu")
    True
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _tensors(arrays: Sequence[np.ndarray], device: str) -> list[torch.Tensor]:
    return [torch.as_tensor(np.ascontiguousarray(a)).to(device) for a in arrays]


def _loss_on(model: nn.Module, inputs: list[torch.Tensor], targets: torch.Tensor, loss_fn: nn.Module, batch_size: int) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, targets.shape[0], batch_size):
            batch = [x[start : start + batch_size] for x in inputs]
            y = targets[start : start + batch_size]
            total += float(loss_fn(model(*batch), y)) * y.shape[0]
            count += y.shape[0]
    return total / max(count, 1)


def _outputs_on(model: nn.Module, inputs: list[torch.Tensor], n: int, batch_size: int) -> torch.Tensor:
    """Return the model's outputs ``(n, n_outputs)`` in eval mode, batch by batch."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(*[x[s : s + batch_size] for x in inputs]) for s in range(0, n, batch_size)])


def _balanced_accuracy_on(model: nn.Module, inputs: list[torch.Tensor], targets: torch.Tensor, batch_size: int) -> float:
    """Mean recall over the classes present in ``targets`` of the model's argmax decisions."""
    decisions = _outputs_on(model, inputs, targets.shape[0], batch_size).argmax(dim=1)
    recalls = [float((decisions[targets == c] == c).float().mean()) for c in torch.unique(targets)]
    return sum(recalls) / max(len(recalls), 1)


def _pearson_r_on(model: nn.Module, inputs: list[torch.Tensor], targets: torch.Tensor, batch_size: int) -> float:
    """Mean Pearson r over the target columns of ``(N, n_outputs)`` predictions; a constant column counts 0."""
    predicted = _outputs_on(model, inputs, targets.shape[0], batch_size).double().cpu().numpy()
    r = pearson_r(targets.double().cpu().numpy(), predicted)
    return float(np.nan_to_num(r, nan=0.0).mean())


def fit(
    model: nn.Module,
    *,
    train_inputs: Sequence[np.ndarray],
    train_targets: np.ndarray,
    val_inputs: Sequence[np.ndarray],
    val_targets: np.ndarray,
    loss_fn: nn.Module,
    config: TrainConfig,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Train ``model`` with AdamW and keep the weights of its best validation epoch.

    The best epoch is the one with the lowest validation loss, or the best criterion named by
    ``config.select``; training stops early after ``config.patience`` epochs without improvement
    (constant schedule only).

    Parameters
    ----------
    model : torch.nn.Module
        Module whose ``forward`` takes one tensor per entry of ``train_inputs``.
    train_inputs, val_inputs : Sequence[numpy.ndarray]
        Arrays with the clip axis first (float32), e.g. ``(N, 1, H, W)`` images or ``(N, F)`` vectors.
    train_targets, val_targets : numpy.ndarray
        Float32 ``(N, n_outputs)`` for regression, int64 ``(N,)`` for classification (whatever
        ``loss_fn`` expects).
    loss_fn : torch.nn.Module
        E.g. ``nn.MSELoss()`` or ``nn.CrossEntropyLoss(weight=...)``.
    config : TrainConfig
        Optimisation settings; ``config.seed`` fixes initial batch order.
    on_epoch : EpochCallback or None, default None
        Progress callback, called after each epoch with ``(epoch, max_epochs, train_loss, val_loss)``.

    Returns
    -------
    TrainResult
        The model (moved to the resolved device, in eval mode, best weights restored) and its history.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=(8, 2)).astype(np.float32)
    >>> result = fit(
    ...     nn.Linear(3, 2), train_inputs=[x], train_targets=y, val_inputs=[x[:4]], val_targets=y[:4],
    ...     loss_fn=nn.MSELoss(), config=TrainConfig(epochs=1, batch_size=8),
    ... )
    >>> result.best_epoch, len(result.history), sorted(result.history[0])
    (1, 1, ['epoch', 'train_loss', 'val_loss'])
    """
    device = resolve_device(config.device)
    model = model.to(device)
    loss_fn = loss_fn.to(device)
    x_train, x_val = _tensors(train_inputs, device), _tensors(val_inputs, device)
    y_train, y_val = _tensors([train_targets, val_targets], device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    n = y_train.shape[0]
    steps_per_epoch = max(1, -(-n // config.batch_size))
    scheduler = (
        torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.learning_rate, total_steps=config.epochs * steps_per_epoch)
        if config.schedule == "onecycle" else None
    )
    generator = torch.Generator().manual_seed(config.seed)
    mixing = np.random.default_rng(config.seed)  # mixup weights (torch has no seeded Beta sampler)
    best_state, best_loss, best_epoch, stale = copy.deepcopy(model.state_dict()), float("inf"), 0, 0
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=generator).to(device)
        running = 0.0
        for start in range(0, n, config.batch_size):
            index = order[start : start + config.batch_size]
            if scheduler is not None and scheduler.last_epoch >= scheduler.total_steps:
                break
            if index.numel() < 2 and n > 1:
                if scheduler is not None:
                    scheduler.step()  # keep the schedule on its step count
                continue  # BatchNorm cannot normalise a batch of one
            batch = [x[index] for x in x_train]
            if config.time_shift:
                batch = [_shift_in_time(x, generator) for x in batch]
            if config.transpose:
                batch = [_transpose_chroma(x, generator) for x in batch]
            if config.spec_augment:
                batch = [_mask_bands(x, generator) for x in batch]
            optimiser.zero_grad(set_to_none=True)
            if config.mixup > 0:
                lam = float(mixing.beta(config.mixup, config.mixup))
                partner = torch.randperm(index.numel(), generator=generator).to(device)
                outputs = model(*[lam * x + (1 - lam) * x[partner] for x in batch])
                targets = y_train[index]
                loss = lam * loss_fn(outputs, targets) + (1 - lam) * loss_fn(outputs, targets[partner])
            else:
                loss = loss_fn(model(*batch), y_train[index])
            loss.backward()
            optimiser.step()
            if scheduler is not None:
                scheduler.step()
            running += float(loss.detach()) * index.numel()
        train_loss = running / n
        val_loss = _loss_on(model, x_val, y_val, loss_fn, config.batch_size * 4)
        record = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss}
        # the criterion is minimised: the loss, or minus the balanced accuracy
        if config.select == "balanced_accuracy":
            record["val_balanced_accuracy"] = _balanced_accuracy_on(model, x_val, y_val, config.batch_size * 4)
            criterion = -record["val_balanced_accuracy"]
        elif config.select == "pearson_r":
            record["val_pearson_r"] = _pearson_r_on(model, x_val, y_val, config.batch_size * 4)
            criterion = -record["val_pearson_r"]
        elif config.select == "last":
            criterion = -float(epoch)  # every epoch improves on the one before: the last one is kept
        else:
            criterion = val_loss
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, config.epochs, train_loss, val_loss)
        if criterion < best_loss - 1e-7:
            best_state, best_loss, best_epoch, stale = copy.deepcopy(model.state_dict()), criterion, epoch, 0
        else:
            stale += 1
            if stale >= config.patience and scheduler is None:
                break
    model.load_state_dict(best_state)
    model.eval()
    best_val_loss = history[best_epoch - 1]["val_loss"] if best_epoch else best_loss
    return TrainResult(
        model=model, best_epoch=best_epoch, best_val_loss=best_val_loss, seconds=time.perf_counter() - started, history=history
    )


def _shift_in_time(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Circularly shift an image batch ``(B, C, H, W)`` along time by one random offset; other inputs pass."""
    if x.ndim != 4 or x.shape[-1] < 2:
        return x
    offset = int(torch.randint(0, x.shape[-1], (1,), generator=generator))
    return torch.roll(x, shifts=offset, dims=-1)


def _transpose_chroma(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Roll a chromagram batch ``(B, C, 12, T)`` by one random number of semitones; other inputs pass."""
    if x.ndim != 4 or x.shape[-2] != 12:
        return x
    semitones = int(torch.randint(0, 12, (1,), generator=generator))
    return torch.roll(x, shifts=semitones, dims=-2)


def _mask_bands(x: torch.Tensor, generator: torch.Generator, *, masks: int = 2, fraction: float = 1 / 8) -> torch.Tensor:
    """SpecAugment an image batch ``(B, C, H, W)`` with ``H >= 32``; other inputs pass unchanged.

    Per clip, ``masks`` row bands and ``masks`` column spans, each of random width up to
    ``fraction`` of its side, are set to the clip's mean.
    """
    if x.ndim != 4 or x.shape[-2] < 32:
        return x
    batch, _, height, width = x.shape
    keep = torch.ones(batch, 1, height, width, dtype=torch.bool)
    for axis, side in ((2, height), (3, width)):
        widths = torch.randint(0, max(1, int(side * fraction)) + 1, (batch, masks), generator=generator)
        starts = (torch.rand(batch, masks, generator=generator) * (side - widths + 1)).long()
        positions = torch.arange(side)
        for m in range(masks):
            inside = (positions >= starts[:, m, None]) & (positions < (starts + widths)[:, m, None])  # (B, side)
            keep &= ~(inside[:, None, :, None] if axis == 2 else inside[:, None, None, :])
    keep = keep.to(x.device)
    fill = x.mean(dim=(1, 2, 3), keepdim=True)
    return torch.where(keep, x, fill)


def predict(model: nn.Module, inputs: Sequence[np.ndarray], *, batch_size: int = 32, device: str = "cpu") -> np.ndarray:
    """Run ``model`` in eval mode over arrays with the clip axis first.

    Parameters
    ----------
    model : torch.nn.Module
        Module whose ``forward`` takes one tensor per entry of ``inputs``.
    inputs : Sequence[numpy.ndarray]
        Arrays with the clip axis first, each with ``N`` clips.
    batch_size : int, default 32
        Clips per forward pass.
    device : str, default "cpu"
        Torch device, or ``"auto"`` (:func:`resolve_device`).

    Returns
    -------
    numpy.ndarray
        Float32 outputs, shape ``(N, n_outputs)``.

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> predict(nn.Linear(3, 2), [np.zeros((5, 3), dtype=np.float32)], batch_size=2).shape
    (5, 2)
    """
    device = resolve_device(device)
    model = model.to(device).eval()
    tensors = _tensors(inputs, device)
    outputs = []
    with torch.no_grad():
        for start in range(0, tensors[0].shape[0], batch_size):
            outputs.append(model(*[x[start : start + batch_size] for x in tensors]).float().cpu().numpy())
    return np.concatenate(outputs, axis=0)


def balanced_class_weights(labels: np.ndarray, *, n_classes: int) -> torch.Tensor:
    """Compute class weights inversely proportional to class frequency (thesis: weighted cross-entropy).

    ``w_c = N / (n_classes * N_c)``; a class absent from ``labels`` gets weight 0.

    Parameters
    ----------
    labels : numpy.ndarray
        Integer class indices, shape ``(N,)``.
    n_classes : int
        Number of classes.

    Returns
    -------
    torch.Tensor
        Float32 weights, shape ``(n_classes,)``.

    Examples
    --------
    >>> import numpy as np
    >>> weights = balanced_class_weights(np.array([0, 0, 0, 1]), n_classes=3)
    >>> weights.dtype, [round(w, 3) for w in weights.tolist()]
    (torch.float32, [0.444, 1.333, 0.0])
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and GPU) for reproducible weight initialisation and dropout.

    Parameters
    ----------
    seed : int
        The seed.

    Examples
    --------
    >>> import torch
    >>> seed_everything(0)
    >>> first = torch.rand(2)
    >>> seed_everything(0)
    >>> torch.equal(first, torch.rand(2))
    True
    """
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
