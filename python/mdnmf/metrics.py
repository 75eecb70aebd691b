"""Per-sample quality measures (SPEC §9), computed by the library."""

import numpy as np

from ._model import address, columns
from ._native import lib
from .errors import ShapeError, call


def _per_sample(function, reference, estimate):
    reference = columns(reference, "reference")
    estimate = columns(estimate, "estimate", rows=reference.shape[0])
    if estimate.shape != reference.shape:
        raise ShapeError(f"estimate has shape {estimate.shape} but reference has "
                         f"{reference.shape}")
    m, n = reference.shape
    out = np.empty(n, dtype=np.float64)
    call(function, address(reference), address(estimate), m, n, address(out))
    return out


def psnr(reference, estimate):
    """PSNR of every sample (column) in dB: 20 log10(max(u) / rms(u - û)),
    +inf where the sample is reproduced exactly.  Both arrays (m, N)."""
    return _per_sample(lib.mdnmf_psnr, reference, estimate)


def mse(reference, estimate):
    """Mean squared error of every sample (column).  Both arrays (m, N)."""
    return _per_sample(lib.mdnmf_squared_error, reference, estimate)
