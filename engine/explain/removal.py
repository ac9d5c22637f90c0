"""How a faithfulness test removes what a relevance map calls relevant.

Two rules, both on model inputs in [0, 1]:

- ``floor``: removed pixels become the spectrogram's floor (0, i.e. -80 dB: silence). Simple, but
  large silent holes push the input out of the training distribution, so every order of removal,
  a random one included, makes the model's output collapse (the test stops discriminating).
- ``road``: noisy linear imputation (Rong et al., "A consistent and efficient evaluation strategy
  for attribution methods", ICML 2022). Each removed pixel takes the weighted mean of its eight
  neighbours (weight 1/6 for the four direct ones, 1/12 for the diagonals), known pixels held fixed,
  plus a little Gaussian noise. The filled holes continue the surrounding spectrum smoothly, so the
  input stays in distribution and the removed *information* is what changes.

The imputation solves ROAD's sparse symmetric positive definite system (a graph Laplacian on the
removed pixels with the known pixels as boundary) with a sparse LU on a 4x coarser grid, then
upsamples the fill (see :func:`noisy_linear_imputation`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from scipy import sparse
from scipy.sparse.linalg import spsolve

REMOVALS = ("floor", "road")
ROAD_NOISE_SD = 0.01
_STENCIL = torch.tensor([[1 / 12, 1 / 6, 1 / 12], [1 / 6, 0.0, 1 / 6], [1 / 12, 1 / 6, 1 / 12]])


def remove(
    image: torch.Tensor, mask: torch.Tensor, *, rule: str, seed: int = 0, noise_sd: float = ROAD_NOISE_SD
) -> torch.Tensor:
    """Apply a removal rule to one input, once per mask.

    Parameters
    ----------
    image : torch.Tensor
        ``(1, C, H, W)`` model input in [0, 1].
    mask : torch.Tensor
        ``(B, 1, H, W)`` with 1 where the pixel is removed, 0 where it is kept.
    rule : {"floor", "road"}
        Removal rule (see the module docstring).
    seed : int
        Seed of the imputation noise (``"road"`` only).
    noise_sd : float
        SD of the imputation noise, in input units (``"road"`` only).

    Returns
    -------
    torch.Tensor
        ``(B, C, H, W)`` perturbed inputs, same dtype and device as ``image``.

    Raises
    ------
    ValueError
        Unknown rule.

    Examples
    --------
    >>> import torch
    >>> image = torch.full((1, 1, 8, 8), 0.5)
    >>> mask = torch.zeros(2, 1, 8, 8)
    >>> mask[0, :, :4, :4] = 1.0
    >>> out = remove(image, mask, rule="floor")
    >>> tuple(out.shape), out[0, 0, 0, 0].item(), out[0, 0, 7, 7].item()
    ((2, 1, 8, 8), 0.0, 0.5)
    """
    if rule == "floor":
        return image * (1.0 - mask)
    if rule == "road":
        return noisy_linear_imputation(image, mask, seed=seed, noise_sd=noise_sd)
    raise ValueError(f"unknown removal rule {rule!r}; known: {REMOVALS}")


def noisy_linear_imputation(
    image: torch.Tensor,
    mask: torch.Tensor,
    *,
    noise_sd: float = ROAD_NOISE_SD,
    seed: int = 0,
    coarsening: int = 4,
) -> torch.Tensor:
    """Fill the masked pixels of ``image`` by ROAD's noisy linear imputation, once per mask.

    The linear system is solved exactly (sparse LU) on a grid ``coarsening`` times coarser than the
    image (a coarse cell is removed when any of its pixels is), and the solution is upsampled
    bilinearly into the removed pixels. Removal tiles of 16 x 16 pixels map to whole 4 x 4 coarse
    cells, so the default loses only detail finer than 4 pixels inside the holes, far below what a
    removed tile held, at a fraction of the full-resolution cost.

    Parameters
    ----------
    image : torch.Tensor
        ``(1, C, H, W)`` model input in [0, 1].
    mask : torch.Tensor
        ``(B, 1, H, W)``, 1 = removed. A mask that removes everything leaves nothing to
        interpolate from: its pixels become the image's mean.
    noise_sd : float
        SD of the Gaussian noise added to the imputed pixels (ROAD: 0.01 on [0, 1] inputs).
    seed : int
        Seed of the noise.
    coarsening : int
        Integer factor dividing H and W (1 solves at full resolution).

    Returns
    -------
    torch.Tensor
        ``(B, C, H, W)`` with known pixels unchanged, clipped to [0, 1], same dtype and device as
        ``image``.

    Raises
    ------
    ValueError
        ``coarsening`` does not divide H and W.

    Examples
    --------
    Without noise, a hole in a linear ramp is filled with the ramp itself:

    >>> import torch
    >>> ramp = torch.linspace(0.0, 1.0, 8).repeat(8, 1)[None, None]  # (1, 1, 8, 8)
    >>> mask = torch.zeros(1, 1, 8, 8)
    >>> mask[..., 2:6, 2:6] = 1.0
    >>> filled = noisy_linear_imputation(ramp, mask, noise_sd=0.0, coarsening=1)
    >>> tuple(filled.shape), bool(torch.allclose(filled, ramp, atol=1e-6))
    ((1, 1, 8, 8), True)
    """
    dtype, device = image.dtype, image.device
    height, width = image.shape[2:]
    if height % coarsening or width % coarsening:
        raise ValueError(f"coarsening {coarsening} must divide the image size {height} x {width}")
    removed = (mask[:, 0] > 0.5).cpu()
    x = image[0].detach().to(torch.float64).cpu()  # (C, H, W)
    coarse_x = F.avg_pool2d(x[None], coarsening)[0].numpy()  # (C, h, w)
    coarse_removed = F.max_pool2d(removed[:, None].to(torch.float64), coarsening)[:, 0].numpy() > 0.5  # (B, h, w)
    laplacian, weights = _system(coarse_x.shape[1], coarse_x.shape[2])
    filled = np.empty((mask.shape[0], *coarse_x.shape))
    for b, holes in enumerate(coarse_removed):
        flat_holes = holes.reshape(-1)
        unknown, known = np.flatnonzero(flat_holes), np.flatnonzero(~flat_holes)
        for c, values in enumerate(coarse_x):
            flat = values.reshape(-1).copy()
            if unknown.size and known.size:
                system = laplacian[unknown][:, unknown].tocsc()
                flat[unknown] = spsolve(system, weights[unknown][:, known] @ flat[known])
            elif unknown.size:
                flat[:] = float(x[c].mean())
            filled[b, c] = flat.reshape(values.shape)
    upsampled = F.interpolate(torch.from_numpy(filled), size=(height, width), mode="bilinear", align_corners=False)
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(upsampled.shape, generator=generator, dtype=torch.float64) * noise_sd
    hole = removed[:, None].to(torch.float64)
    out = x[None] * (1.0 - hole) + (upsampled + noise) * hole
    return out.clamp(0.0, 1.0).to(device=device, dtype=dtype)


@lru_cache(maxsize=4)
def _system(height: int, width: int) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """ROAD's neighbour weights ``W`` on an ``height x width`` grid and the Laplacian ``diag(W 1) - W``.

    Row p of the system for the removed pixels: ``d_p u_p - sum_{q removed} w_pq u_q = sum_{q known}
    w_pq x_q``, d_p the weight of p's neighbours inside the grid; symmetric positive definite on
    every hole that touches a known pixel.
    """
    index = np.arange(height * width).reshape(height, width)
    ys, xs = np.mgrid[0:height, 0:width]
    rows, columns, values = [], [], []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            weight = float(_STENCIL[dy + 1, dx + 1])
            if weight == 0.0:
                continue
            inside = (ys + dy >= 0) & (ys + dy < height) & (xs + dx >= 0) & (xs + dx < width)
            rows.append(index[inside])
            columns.append(index[ys[inside] + dy, xs[inside] + dx])
            values.append(np.full(int(inside.sum()), weight))
    weights = sparse.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))),
                                shape=(height * width, height * width))
    laplacian = (sparse.diags(np.asarray(weights.sum(axis=1)).ravel()) - weights).tocsr()
    return laplacian, weights


def tile_masks(order: np.ndarray, fractions: np.ndarray, *, height: int, width: int, patch: int) -> torch.Tensor:
    """Build masks removing the first ``fraction`` of tiles in ``order``, one per fraction.

    Parameters
    ----------
    order : np.ndarray
        ``(n_tiles,)`` tile indices, row-major over the ``(height // patch, width // patch)`` grid,
        first removed first.
    fractions : np.ndarray
        ``(n_fractions,)`` shares of tiles removed, each in [0, 1] (rounded to whole tiles).
    height, width : int
        Mask size in pixels; pixels beyond the last whole tile are never removed.
    patch : int
        Tile side in pixels.

    Returns
    -------
    torch.Tensor
        ``(n_fractions, 1, height, width)`` float32 masks, 1 where the pixel is removed.

    Examples
    --------
    >>> import numpy as np
    >>> masks = tile_masks(np.array([3, 0, 1, 2]), np.array([0.0, 0.25, 1.0]), height=4, width=4, patch=2)
    >>> tuple(masks.shape), masks.sum(dim=(1, 2, 3)).tolist()
    ((3, 1, 4, 4), [0.0, 4.0, 16.0])
    >>> masks[1, 0]
    tensor([[0., 0., 0., 0.],
            [0., 0., 0., 0.],
            [0., 0., 1., 1.],
            [0., 0., 1., 1.]])
    """
    rows, columns = height // patch, width // patch
    rank = np.empty(order.size, dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(order.size)
    counts = np.round(np.asarray(fractions, dtype=np.float64) * order.size).astype(np.int64)
    removed = rank[None, :] < counts[:, None]  # (n_fractions, n_tiles)
    grid = removed.reshape(len(counts), rows, columns)
    full = np.zeros((len(counts), height, width), dtype=np.float32)
    full[:, : rows * patch, : columns * patch] = np.repeat(np.repeat(grid, patch, axis=1), patch, axis=2)
    return torch.from_numpy(full)[:, None]
