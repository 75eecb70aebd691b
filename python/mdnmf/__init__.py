"""mdnmf: NMF and Maximum Discrepancy NMF (MDNMF) for source separation,
backed by the C library libmdnmf through ctypes.

    from mdnmf import NMF, NMF_separation   # the research code's interface
    from mdnmf import MDNMF                 # a scikit-learn estimator
    from mdnmf import Denoiser, stft, si_sdr  # audio: denoising, STFT, metrics

Data for NMF and NMF_separation is column-wise, (m features, N samples); an
(m, N) float32 array in Fortran order reaches C without a copy.  MDNMF takes
scikit-learn's (N samples, m features); there a C-order float32 array is the
copy-free case.  See docs/python.md.
"""

from ._model import columns as as_columns
from .audio import (Denoiser, bss_eval, istft, read_audio, resample, si_sdr, snr, stft,
                    write_audio)
from ._native import library_path, version as library_version
from .errors import (CancelledError, DivergenceError, FileAccessError, FileFormatError,
                     InvalidArgumentError, InvalidDataError, MDNMFError, NotFittedError,
                     OutOfMemoryError, ShapeError)
from .estimator import MDNMF
from .metrics import mse, psnr
from .research import NMF, NMF_separation, load
from .search import SearchResult, random_search
from .stream import Stream

# The package carries (or loads) the library it binds: one version, set in
# CMakeLists.txt.
__version__ = library_version()

__all__ = [
    "NMF", "NMF_separation", "MDNMF", "Stream", "load", "psnr", "mse", "as_columns",
    "library_version", "library_path", "MDNMFError", "InvalidArgumentError",
    "InvalidDataError", "ShapeError", "FileFormatError", "FileAccessError",
    "OutOfMemoryError", "DivergenceError", "CancelledError", "NotFittedError",
    # the audio API (audio.py)
    "Denoiser", "read_audio", "write_audio", "resample", "stft", "istft", "snr", "si_sdr",
    "bss_eval", "random_search", "SearchResult",
]
