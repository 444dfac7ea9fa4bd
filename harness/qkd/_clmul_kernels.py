"""Toeplitz products over GF(2) on bit-packed words, with the CPU's carry-less multiply.

Words hold 64 bits, bit k of word q being bit 64·q + k (``np.packbits(..., bitorder="little")``
viewed as uint64 on a little-endian host), so a word array is a polynomial over GF(2) and the
x86 PCLMULQDQ instruction multiplies two words into a 128-bit product in one step.

The square product (N = 64·w bits). With a seed S of 2N bits (bit 0 unused) and x of N bits,

    Y[i] = Σ_j S[i − j + N]·x[j] mod 2,   0 ≤ i < N,

that is bits N … 2N − 1 of the polynomial product S·x: words w … 2w − 1, which is word-aligned.
(Bit 0 of S is never used because i − j + N ≥ 1; it lets every sub-block's seed start on a word.)

Karatsuba for Toeplitz matrices (h = w/2 words): with T = [[A, B], [C, A]] (A, B, C Toeplitz, of
the seed windows S[h:3h], S[0:2h], S[2h:4h] in words),

    y0 = A·x0 + B·x1 = A·(x0 + x1) + (A + B)·x1,   y1 = C·x0 + A·x1 = A·(x0 + x1) + (A + C)·x0,

so three half-size products replace four, and A + B, A + C are the Toeplitz matrices of the
XORed seeds. Below ``_BASE_MAX_WORDS`` words the product is the schoolbook one, w·(w + 1)
carry-less multiplies.
"""

from __future__ import annotations

import llvmlite.binding
import numba
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_BASE_MAX_WORDS = 32  # the recursion stops at 17 … 32 words (see module docstring)
_ZERO = np.uint64(0)



def _host_has_clmul() -> bool:
    """Whether numba compiles for this CPU (the default) and it has PCLMULQDQ; when numba is told
    to target another CPU (NUMBA_CPU_NAME), the instruction may not exist there."""
    if numba.config.CPU_NAME not in (None, "host"):
        return False
    try:
        return bool(llvmlite.binding.get_host_cpu_features().get("pclmul", False))
    except RuntimeError:  # features unknown on this platform
        return False


HAS_CLMUL = _host_has_clmul()


@intrinsic
def _clmul(typingctx, a, b):
    """(low, high) words of the carry-less product of two uint64 words (PCLMULQDQ)."""
    if a != types.uint64 or b != types.uint64:
        return None
    signature = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64)

    def codegen(context, builder, sig, args):
        word = ir.IntType(64)
        pair = ir.VectorType(word, 2)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(pair, [pair, pair, ir.IntType(8)]), "llvm.x86.pclmulqdq")
        first = ir.Constant(ir.IntType(32), 0)
        left = builder.insert_element(ir.Constant(pair, None), args[0], first)
        right = builder.insert_element(ir.Constant(pair, None), args[1], first)
        product = builder.call(function, [left, right, ir.Constant(ir.IntType(8), 0)])
        low = builder.extract_element(product, first)
        high = builder.extract_element(product, ir.Constant(ir.IntType(32), 1))
        return context.make_tuple(builder, sig.return_type, [low, high])

    return signature, codegen


@intrinsic
def _clmul_dot4(typingctx, left, right, start):
    """(low, high) of ⊕_{k<4} left[start + k]·right[start + k], carry-less (two 128-bit loads per
    array, four PCLMULQDQ, the XORs done in vector registers). No bounds check: the caller keeps
    start + 4 ≤ len of both, which must be C-contiguous uint64 arrays."""
    words = types.Array(types.uint64, 1, "C")
    if left != words or right != words or not isinstance(start, types.Integer):
        return None
    signature = types.UniTuple(types.uint64, 2)(left, right, start)

    def codegen(context, builder, sig, args):
        word = ir.IntType(64)
        pair = ir.VectorType(word, 2)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(pair, [pair, pair, ir.IntType(8)]), "llvm.x86.pclmulqdq")
        offset = context.cast(builder, args[2], sig.args[2], types.intp)

        def load_pair(array, array_type, plus):
            data = context.make_array(array_type)(context, builder, array).data
            address = builder.gep(data, [builder.add(offset, ir.Constant(offset.type, plus))])
            return builder.load(builder.bitcast(address, pair.as_pointer()), align=8)

        total = None
        for plus in (0, 2):
            a = load_pair(args[0], sig.args[0], plus)
            b = load_pair(args[1], sig.args[1], plus)
            for selector in (0x00, 0x11):  # low words, then high words, of each pair
                product = builder.call(function, [a, b, ir.Constant(ir.IntType(8), selector)])
                total = product if total is None else builder.xor(total, product)
        low = builder.extract_element(total, ir.Constant(ir.IntType(32), 0))
        high = builder.extract_element(total, ir.Constant(ir.IntType(32), 1))
        return context.make_tuple(builder, sig.return_type, [low, high])

    return signature, codegen


@njit(cache=True)
def _clmul_words(a: np.uint64, b: np.uint64) -> tuple[np.uint64, np.uint64]:
    """The intrinsic behind a plain function, so that tests can call it from Python."""
    return _clmul(a, b)


@njit(cache=True)
def _square_product_base(seed: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """out ← words w … 2w − 1 of seed·x (w = len(x), len(seed) = 2w), schoolbook.

    Word q of the product is low(R_q) ⊕ high(R_{q−1}) with R_k = Σ_{a+b=k} x[a]·seed[b]; the
    wanted q need R_{w−1} … R_{2w−1}, for which b = k − a stays inside the seed for every a.
    """
    w = x.size
    reversed_x = x[::-1].copy()  # R_k is then a dot product of two contiguous runs
    previous_high = _ZERO
    quads = w - w % 4
    for k in range(w - 1, 2 * w):
        run = seed[k - w + 1 : k + 1]  # run[a] = seed[k − (w − 1 − a)]
        low = _ZERO
        high = _ZERO
        for a in range(0, quads, 4):
            lo, hi = _clmul_dot4(reversed_x, run, a)
            low ^= lo
            high ^= hi
        for a in range(quads, w):
            lo, hi = _clmul(reversed_x[a], run[a])
            low ^= lo
            high ^= hi
        if k >= w:
            out[k - w] = low ^ previous_high
        previous_high = high


@njit(cache=True)
def _square_product(seed: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """out ← Y of the module docstring for len(x) = w words and len(seed) = 2w; Karatsuba."""
    w = x.size
    if w <= _BASE_MAX_WORDS or w % 2:
        _square_product_base(seed, x, out)
        return
    h = w // 2
    a_seed = seed[h : 3 * h]
    x0 = x[:h]
    x1 = x[h:]
    sub_seed = np.empty(2 * h, np.uint64)
    sub_x = np.empty(h, np.uint64)
    p0 = np.empty(h, np.uint64)
    p1 = np.empty(h, np.uint64)
    for k in range(h):
        sub_x[k] = x0[k] ^ x1[k]
    _square_product(a_seed, sub_x, p0)  # A·(x0 + x1)
    for k in range(2 * h):
        sub_seed[k] = a_seed[k] ^ seed[k]
    _square_product(sub_seed, x1, p1)  # (A + B)·x1
    for k in range(h):
        out[k] = p0[k] ^ p1[k]
    for k in range(2 * h):
        sub_seed[k] = a_seed[k] ^ seed[2 * h + k]
    _square_product(sub_seed, x0, p1)  # (A + C)·x0
    for k in range(h):
        out[h + k] = p0[k] ^ p1[k]


@njit(cache=True)
def _toeplitz_words(seed_words: np.ndarray, x_words: np.ndarray, w: int) -> np.ndarray:
    """Σ_v of the square products of block v: x_words[v·w :][:w] with seed_words[(V−1−v)·w :][:2w].

    (V = len(x_words)/w blocks; the caller lays the seed out so that these are the blocks of T.)
    """
    blocks = x_words.size // w
    out = np.zeros(w, np.uint64)
    part = np.empty(w, np.uint64)
    for v in range(blocks):
        s0 = (blocks - 1 - v) * w
        _square_product(seed_words[s0 : s0 + 2 * w], x_words[v * w : (v + 1) * w], part)
        for k in range(w):
            out[k] ^= part[k]
    return out


def block_words(output_words: int) -> int:
    """w for the square blocks: the least b·2^L ≥ output_words with b ≤ ``_BASE_MAX_WORDS``, so
    that the recursion halves L times down to b words (at most 1/b more outputs than needed)."""
    halvings = 0
    while -(-output_words // (1 << halvings)) > _BASE_MAX_WORDS:
        halvings += 1
    return -(-output_words // (1 << halvings)) << halvings


def _packed_words(bits: np.ndarray, words: int) -> np.ndarray:
    out = np.zeros(words, np.uint64)
    packed = np.packbits(bits, bitorder="little")
    out.view(np.uint8)[: packed.size] = packed
    return out


@njit(cache=True)
def _shifted_words(src: np.ndarray, shift_bits: int, words: int) -> np.ndarray:
    """``words`` words of src moved up by shift_bits ≥ 0 bits (zeros shifted in and beyond src)."""
    out = np.zeros(words, np.uint64)
    whole, part = shift_bits // 64, np.uint64(shift_bits % 64)
    for q in range(max(whole, 0), min(words, src.size + whole)):
        out[q] = src[q - whole] << part
    if part:
        for q in range(max(whole + 1, 0), min(words, src.size + whole + 1)):
            out[q] |= src[q - whole - 1] >> (np.uint64(64) - part)
    return out


def toeplitz_product(bits: np.ndarray, m: int, seed_bits: np.ndarray) -> np.ndarray:
    """y[i] = Σ_j seed_bits[i − j + n − 1]·bits[j] mod 2 for i < m (inputs as privacy checks them).

    T (m × n) is padded with zero rows and columns to V square blocks of N = 64·w bits, block v
    taking inputs v·N … v·N + N − 1. Its seed in the square form is S_v[k] = seed_bits[k + o_v]
    with o_v = n − 1 − N − v·N, so all blocks read one array, seed_bits shifted by
    n − 1 − V·N ≤ −1 (zeros outside), block v from bit (V − 1 − v)·N: word-aligned.
    """
    n = bits.size
    w = block_words(-(-m // 64))
    block_bits = 64 * w
    blocks = -(-n // block_bits)
    packed_seed = _packed_words(seed_bits, -(-seed_bits.size // 64))
    seed_words = _shifted_words(packed_seed, blocks * block_bits - n + 1, (blocks + 1) * w)
    x_words = _packed_words(bits, blocks * w)
    y = _toeplitz_words(seed_words, x_words, w)
    return np.unpackbits(y.view(np.uint8), bitorder="little")[:m]
