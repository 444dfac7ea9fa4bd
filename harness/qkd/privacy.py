"""Toeplitz hashing over GF(2): privacy amplification and verification tags.

Convention. For an n-bit input x and m output bits the m × n Toeplitz matrix is

    T[i, j] = seed_bits[i - j + n - 1],   0 ≤ i < m, 0 ≤ j < n,

so ``seed_bits`` (n + m − 1 bits) runs from the top-right corner (seed_bits[0] = T[0, n−1])
along the first row leftwards to T[0, 0] = seed_bits[n−1], then down the first column to
T[m−1, 0] = seed_bits[n+m−2]. Output y = T·x mod 2, that is
y[i] = Σ_j seed_bits[i − j + n − 1]·x[j] mod 2: entries n−1 … n+m−2 of the integer convolution
seed_bits * x, read mod 2. With a uniformly random seed the family is universal: two distinct
inputs collide with probability exactly 2^−m.

Three kernels compute the same thing:

* m ≤ 64: bit-packed (numba): y is the XOR of the columns selected by x, column j being the
  m-bit window of the seed that starts at bit n − 1 − j. Cost n word operations.
* m > 64 on a CPU with a carry-less multiply (x86 PCLMULQDQ): the product on bit-packed words,
  Karatsuba for Toeplitz matrices down to 64 × 64-bit carry-less multiplies
  (``harness.qkd._clmul_kernels``). Exact by construction: it is GF(2) arithmetic. At 10^6 input
  bits benchmarks/toeplitz_throughput.py measured 79× (10^5 output bits) and 86× (5·10^5) the
  CPU time of a plain FFT product, medians of 15 repeats at load average 6–8 on 2 cores (the FFT
  path below: 10× and 24×); 10^7 → 1.9·10^6 bits took 0.47 s against 3.9 s by the FFT path,
  side by side at the same load.
* m > 64 elsewhere: the convolution by real FFT (float64). Up to n + m − 1 = 4·``_BLOCK`` (2^16) one
  circular convolution over L ≥ n + m − 1 points (scipy.fft), which leaves the wanted entries
  free of wrap-around. Beyond that T is cut into c × c blocks (c ≈ 2^16, see ``_block_size``);
  block (u, v) depends only on u − v, so each input slice and each distinct block is
  transformed once at length 2c (cache-sized) and the products are summed in the frequency
  domain. The block transforms use ducc0 when installed (the whole hash then takes ~14 % less
  CPU time than with scipy.fft at 10^6 input bits here), else scipy.fft; working arrays are
  reused per thread. At 10^6 input bits the benchmark measured about 24 ms → 10^5 output bits
  and 32 ms → 5·10^5 (CPU time), against 41 and 55 ms before (c = 2^17, scipy.fft, fresh
  arrays).
  Every value is an integer ≤ min(n, m), so the result must sit within ``_EXACT_TOLERANCE`` of
  an integer; if it does not, x is split in halves (two smaller, exactly representable
  products, XORed), down to the packed kernel. At n = 10^6 and 10^7 the worst distance from an
  integer measured 0 (below half an ulp of the values) to 6e−11.
"""

from __future__ import annotations

import threading

import numpy as np
import scipy.fft
from numba import njit

try:  # optional: faster real FFTs than scipy.fft's at the block length (module docstring)
    import ducc0
except ImportError:  # pragma: no cover - depends on the environment
    ducc0 = None

from harness.qkd import _clmul_kernels
from harness.qkd.bits import check_bits

_EXACT_TOLERANCE = 1e-3
_PACKED_MAX_OUTPUT = 64
_BLOCK = 1 << 16  # c for the blocked FFT: transforms of 2^17 points stay in L2 (see module docstring)
_MAX_BLOCK_PAIRS = 1024  # beyond this many c × c blocks, c doubles (see _block_size)
_BATCH = 8  # rows filled per FFT call
_TILE = 128  # frequency bins per tile of the block products
_STREAM_BLOCK = 1 << 22  # c of the streamed product: its working set is about 64·c bytes (256 MiB)
_SCRATCH_MAX_BYTES = 96 << 20  # what a 10^6 → 5·10^5-bit hash needs (about 60 MB), with margin
_scratch_arrays = threading.local()
_ONE = np.uint64(1)
_HAS_CLMUL = _clmul_kernels.HAS_CLMUL


def toeplitz_hash(bits: np.ndarray, output_length: int, seed_bits: np.ndarray) -> np.ndarray:
    """Hash ``bits`` (n) to ``output_length`` (m) bits with the Toeplitz matrix of ``seed_bits``.

    ``bits`` and ``seed_bits`` are 1-D ``numpy.uint8`` arrays of 0/1; ``seed_bits`` must have
    exactly n + m − 1 entries (convention in the module docstring); m ≥ 1. Returns m uint8 bits.
    """
    check_bits(bits, "bits")
    check_bits(seed_bits, "seed_bits")
    n = bits.size
    if n < 1:
        raise ValueError("bits must not be empty")
    if isinstance(output_length, bool) or not isinstance(output_length, (int, np.integer)):
        raise ValueError(f"output_length must be an integer, got {output_length!r}")
    if output_length < 1:
        raise ValueError(f"output_length must be at least 1, got {output_length}")
    m = int(output_length)
    if seed_bits.size != n + m - 1:
        raise ValueError(f"seed_bits must have n + m - 1 = {n + m - 1} bits, got {seed_bits.size}")
    if m <= _PACKED_MAX_OUTPUT:
        return _packed(bits, m, seed_bits)
    if _HAS_CLMUL:
        return _clmul_kernels.toeplitz_product(bits, m, seed_bits)
    return _fft(bits, m, seed_bits)


def _packed(bits: np.ndarray, m: int, seed_bits: np.ndarray) -> np.ndarray:
    seed_words = np.zeros((seed_bits.size + 127) // 64, dtype=np.uint64)  # one spare zero word
    packed = np.packbits(seed_bits, bitorder="little")
    seed_words.view(np.uint8)[: packed.size] = packed
    word = _toeplitz_packed(bits, m, seed_words)
    return ((word >> np.arange(m, dtype=np.uint64)) & _ONE).astype(np.uint8)


@njit(cache=True)
def _toeplitz_packed(bits: np.ndarray, m: int, seed_words: np.ndarray) -> np.uint64:
    n = bits.size
    acc = np.uint64(0)
    for j in range(n):
        start = n - 1 - j  # column j is seed bits start … start + m − 1
        w, b = start >> 6, np.uint64(start & 63)
        window = seed_words[w] >> b
        if b:
            window |= seed_words[w + 1] << (np.uint64(64) - b)
        acc ^= window & (np.uint64(0) - np.uint64(bits[j]))  # branch-free: x is random
    if m < 64:
        acc &= (_ONE << np.uint64(m)) - _ONE
    return acc


def _fft_length(minimum: int) -> int:
    """The smallest 2^a·3^b ≥ minimum: pocketfft runs these lengths fastest (5- and 7-smooth
    lengths from next_fast_len measured up to 1.4× slower at 10^6 here)."""
    best = 1 << max(minimum - 1, 0).bit_length()
    power3 = 1
    while power3 < best:
        length = power3
        while length < minimum:
            length *= 2
        best = min(best, length)
        power3 *= 3
    return best


def _convolution_window(bits: np.ndarray, m: int, seed_bits: np.ndarray) -> np.ndarray:
    """Entries n−1 … n+m−2 of seed_bits * bits as float64, by FFT; integers up to rounding."""
    return _convolution_rows(bits, m, seed_bits).reshape(-1)[:m]


def _convolution_rows(bits: np.ndarray, m: int, seed_bits: np.ndarray) -> np.ndarray:
    """The same entries as the first m of a 2-D array read row by row (no copy into one array).

    May be a view of this thread's scratch arrays: use it before the next hash in this thread.
    """
    n = bits.size
    if n + m - 1 > 4 * _BLOCK:
        return _blocked_window(bits, m, seed_bits, _block_size(n, m))
    length = _fft_length(n + m - 1)
    # Zero-padded buffers of the transform length let pocketfft work in place (about a quarter
    # faster than passing the length and letting it copy).
    padded = np.zeros(length)
    padded[:n] = bits
    spectrum = scipy.fft.rfft(padded, overwrite_x=True)
    padded = np.zeros(length)
    padded[: n + m - 1] = seed_bits
    spectrum *= scipy.fft.rfft(padded, overwrite_x=True)
    return scipy.fft.irfft(spectrum, length, overwrite_x=True)[n - 1 : n + m - 1].reshape(1, m)


def _block_size(n: int, m: int) -> int:
    """c for n input and m output bits: ``_BLOCK``, doubled when the (n/c)·(m/c) block products
    would outweigh the transforms, then trimmed to the smallest 5-smooth length that needs no
    more input slices (the last slice is then nearly full, not mostly zeros).

    Measured here (CPU time): break-even near 1,000 block pairs at c = 2^16 (4·10^6 → 10^6
    bits: 177 against 185 ms); 10^7 → 1.9·10^6 bits (a pipeline block) takes 0.56 s at 2^17
    against 1.12 s at 2^16. Trimming: 2–25 % less time on six shapes from 3·10^5 to 2·10^6 input
    bits with ducc0 and with scipy.fft (10^6 → 5·10^5: c = 62,500 instead of 65,536)."""
    c = _BLOCK
    if -(-n // c) * -(-m // c) > _MAX_BLOCK_PAIRS:
        c *= 2
    return scipy.fft.next_fast_len(-(-n // -(-n // c)), real=True)


def _blocked_window(bits: np.ndarray, m: int, seed_bits: np.ndarray, c: int) -> np.ndarray:
    """The same entries from c × c blocks of T, each a small Toeplitz product done by FFT.

    Block (u, v) of T (output slice u, input slice v) depends only on d = u − v, so every input
    slice and every distinct block is transformed once (length 2c, cache-sized), and the block
    products are summed in the frequency domain before one inverse transform per output slice.
    Block d's seed is the 2c − 1 bits from seed index d·c + n − V·c (V input slices); bits
    outside the seed are zeros.
    """
    n = bits.size
    inputs, outputs = -(-n // c), -(-m // c)
    x_spectra = _row_spectra("x", bits, 0, c, inputs, c)
    block_spectra = _row_spectra("blocks", seed_bits, n - inputs * c, 2 * c - 1, inputs + outputs - 1, c)
    sums = _scratch("sums", (outputs, c + 1), np.complex128)
    _block_products(block_spectra, x_spectra, sums)
    if ducc0 is None:
        y = scipy.fft.irfft(sums, 2 * c, axis=1, overwrite_x=True)
    else:
        y = _scratch("y", (outputs, 2 * c), np.float64)
        for u in range(outputs):
            ducc0.fft.c2r(sums[u], lastsize=2 * c, forward=False, inorm=2, out=y[u], nthreads=1,
                          allow_overwriting_input=True)
    return y[:, c - 1 : 2 * c - 1]


def _scratch(name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """A per-thread array reused by the next call of the same shape (contents undefined).

    Fresh multi-megabyte arrays are page-faulted in on every call: measured 4,000–5,000 minor
    faults and 8–20 ms of system time per 10^6-bit hash here, a third of the total. A thread
    keeps at most ``_SCRATCH_MAX_BYTES`` in all, so a one-off huge hash does not pin its memory.
    """
    arrays = _scratch_arrays.__dict__.setdefault("arrays", {})
    arr = arrays.pop(name, None)
    if arr is None or arr.shape != shape or arr.dtype != dtype:
        arr = np.empty(shape, dtype)
    if arr.nbytes + sum(kept.nbytes for kept in arrays.values()) <= _SCRATCH_MAX_BYTES:
        arrays[name] = arr
    return arr


def _row_spectra(name: str, src: np.ndarray, first: int, width: int, rows: int, c: int) -> np.ndarray:
    """Real spectra (length 2c) of ``rows`` rows; row r holds src[first + r·c :][:width], zero-padded.

    Rows are filled straight from the uint8 bits into a small reused buffer: no padded float
    copies of whole inputs, no strided views for the FFT library to copy again.
    """
    out = _scratch(name, (rows, c + 1), np.complex128)
    # One row at a time for ducc0, filled just before its transform so that it is still in
    # cache (on a 2-D array ducc0 vectorises across rows, which at this length runs out of
    # cache: 3× slower per point here); scipy.fft is given a few rows per call.
    batch_rows = _BATCH if ducc0 is None else 1
    buffer = _scratch("rows", (min(rows, batch_rows), 2 * c), np.float64)
    for r in range(0, rows, batch_rows):
        batch = buffer[: min(batch_rows, rows - r)]
        _fill_rows(src, first + r * c, c, width, batch)
        if ducc0 is None:
            out[r : r + batch.shape[0]] = scipy.fft.rfft(batch, axis=1, overwrite_x=True)
        else:
            ducc0.fft.r2c(batch[0], out=out[r], nthreads=1)
    return out


@njit(cache=True)
def _fill_rows(src: np.ndarray, first: int, stride: int, width: int, out: np.ndarray) -> None:
    """out[r, k] = src[first + r·stride + k] for k < width where that index lies in src, else 0."""
    rows, length = out.shape
    for r in range(rows):
        base = first + r * stride
        lo = min(max(0, -base), length)
        hi = max(min(width, src.size - base), lo)
        # Plain loops over 1-D slices: numba vectorises these (10× faster than 2-D indexing).
        row = out[r]
        for k in range(lo):
            row[k] = 0.0
        bits = src[base + lo : base + hi]
        values = row[lo:hi]
        for k in range(hi - lo):
            values[k] = bits[k]
        for k in range(hi, length):
            row[k] = 0.0


@njit(cache=True)
def _block_products(block_spectra: np.ndarray, x_spectra: np.ndarray, sums: np.ndarray) -> None:
    """sums[u] = Σ_v block_spectra[u − v + V − 1] · x_spectra[v], elementwise (V input slices).

    Tiled over frequency bins so that each tile's rows stay in L1 while every (u, v) pair
    visits it (30–40 % less time than whole rows at c = 2^16 here).
    """
    inputs, width = x_spectra.shape
    outputs = sums.shape[0]
    acc = np.empty(_TILE, dtype=np.complex128)
    for k0 in range(0, width, _TILE):
        k1 = min(k0 + _TILE, width)
        for u in range(outputs):
            acc[:] = 0
            for v in range(inputs):
                block = block_spectra[u - v + inputs - 1, k0:k1]
                x = x_spectra[v, k0:k1]
                for k in range(k1 - k0):
                    acc[k] += block[k] * x[k]
            sums[u, k0:k1] = acc[: k1 - k0]


@njit(cache=True)
def _round_to_bits(rows: np.ndarray, m: int) -> tuple[np.ndarray, float]:
    """Parity of the nearest integer to each of the first m entries (row by row), and the
    largest distance to it."""
    out = np.empty(m, dtype=np.uint8)
    worst = 0.0
    width = rows.shape[1]
    for row in range(-(-m // width)):
        y = rows[row]
        for k in range(min(width, m - row * width)):
            r = np.rint(y[k])
            worst = max(worst, abs(y[k] - r))
            out[row * width + k] = np.uint8(np.int64(r) & 1)
    return out, worst


def _fft(bits: np.ndarray, m: int, seed_bits: np.ndarray) -> np.ndarray:
    n = bits.size
    if _blocked_bytes(n, m) > 64 * _STREAM_BLOCK:
        return _streamed(bits, m, seed_bits)
    out, worst = _round_to_bits(_convolution_rows(bits, m, seed_bits), m)
    if worst <= _EXACT_TOLERANCE:
        return out
    return _split(bits, m, seed_bits)


def _split(bits: np.ndarray, m: int, seed_bits: np.ndarray) -> np.ndarray:
    """The exact fallback: two products of half the input, XORed (smaller, exactly representable)."""
    n = bits.size
    if n == 1:
        return seed_bits[:m] & bits[0]
    # y = T(seed[n_b:], x[:n_a]) ⊕ T(seed[:n_b + m − 1], x[n_a:]) with n_a + n_b = n.
    n_a = n // 2
    n_b = n - n_a
    left = _fft_or_packed(bits[:n_a], m, seed_bits[n_b:])
    right = _fft_or_packed(bits[n_a:], m, seed_bits[: n_b + m - 1])
    return left ^ right


def _blocked_bytes(n: int, m: int) -> int:
    """Working set of the blocked product: spectra of V input slices, U + V − 1 blocks and U sums,
    and U rows of output (c + 1 complex or 2c real each), for U output slices."""
    if n + m - 1 <= 4 * _BLOCK:
        return 0
    c = _block_size(n, m)
    inputs, outputs = -(-n // c), -(-m // c)
    return 16 * (c + 1) * (2 * inputs + 3 * outputs)


def _streamed(bits: np.ndarray, m: int, seed_bits: np.ndarray) -> np.ndarray:
    """The hash of a block too large for the blocked product's memory, in bounded memory.

    T is cut into c × c tiles (c = ``_STREAM_BLOCK``, the last row and column of tiles
    smaller); tile (u, v) maps input slice v to output slice u and is itself the Toeplitz
    matrix of a window of the seed, so y_u = ⊕_v T_uv x_v over GF(2). Each tile product is one
    circular convolution of length 2c (no wrap-around in the wanted entries), rounded to bits
    and XORed into y_u; slice v's spectrum is computed once for all u. Memory: four arrays of
    2c doubles (about 64·c bytes) besides the output, whatever n and m; time grows as n·m/c
    (measured: 10^8 → 4.5·10^7 bits in about 70 s of CPU at c = 2^22). A tile whose product is
    not within ``_EXACT_TOLERANCE`` of integers is redone exactly by :func:`_split`.
    """
    n = bits.size
    c = _STREAM_BLOCK
    length = 2 * c
    out = np.zeros(m, np.uint8)
    signal = np.empty(length)
    x_spectrum = np.empty(c + 1, np.complex128)
    spectrum = np.empty(c + 1, np.complex128)
    for j0 in range(0, n, c):
        j1 = min(n, j0 + c)
        _rfft_into(bits[j0:j1], signal, x_spectrum)
        for i0 in range(0, m, c):
            i1 = min(m, i0 + c)
            # Tile (i0…i1, j0…j1): T'[a, b] = seed[(i0 + a) − (j0 + b) + n − 1], the Toeplitz
            # matrix of the seed window that starts at i0 − j1 + n.
            window = seed_bits[i0 - j1 + n : i0 + i1 - i0 - j0 + n - 1]
            _rfft_into(window, signal, spectrum)
            np.multiply(spectrum, x_spectrum, out=spectrum)
            _irfft_into(spectrum, signal)
            tile, worst = _round_to_bits(signal[j1 - j0 - 1 : j1 - j0 + i1 - i0 - 1].reshape(1, -1), i1 - i0)
            if worst > _EXACT_TOLERANCE:
                tile = _split(bits[j0:j1], i1 - i0, window)
            out[i0:i1] ^= tile
    return out


def _rfft_into(bits: np.ndarray, signal: np.ndarray, spectrum: np.ndarray) -> None:
    """spectrum ← real FFT of ``bits`` zero-padded to len(signal) (signal is overwritten)."""
    signal[: bits.size] = bits
    signal[bits.size :] = 0.0
    if ducc0 is None:
        spectrum[:] = scipy.fft.rfft(signal)
    else:
        ducc0.fft.r2c(signal, out=spectrum, nthreads=1)


def _irfft_into(spectrum: np.ndarray, signal: np.ndarray) -> None:
    """signal ← inverse real FFT of ``spectrum`` (which is overwritten)."""
    if ducc0 is None:
        signal[:] = scipy.fft.irfft(spectrum, signal.size, overwrite_x=True)
    else:
        ducc0.fft.c2r(spectrum, lastsize=signal.size, forward=False, inorm=2, out=signal, nthreads=1,
                      allow_overwriting_input=True)


def _fft_or_packed(bits: np.ndarray, m: int, seed_bits: np.ndarray) -> np.ndarray:
    return _packed(bits, m, seed_bits) if m <= _PACKED_MAX_OUTPUT else _fft(bits, m, seed_bits)
