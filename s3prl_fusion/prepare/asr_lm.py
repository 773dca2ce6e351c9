"""A small n-gram language model and letter lexicon from LibriSpeech transcripts, for s3prl's KenLM decoding of ``-d asr``.

Writes ``<out>/<order>-gram.arpa`` (an ARPA back-off model of the ``*.trans.txt`` transcripts of
the given splits, training data only) and ``<out>/librispeech_lexicon.lst`` (every word of those
transcripts spelled in letters with the word boundary ``|``: ``HELLO\\tH E L L O |``, the format of
fairseq's LibriSpeech lexicon). Meant for smoke runs and tests on small corpora such as the bundled
``corpora/LibriSpeech``.

SUPERB's real run decodes with LibriSpeech's official 4-gram model and fairseq's letter lexicon
(s3prl's docs, "Testing with KenLM + LibriSpeech official 4-gram LM"): put these two downloads
in one folder and pass it as ``LM_DIR`` to ``recipes/asr.sh``:

- https://www.openslr.org/resources/11/4-gram.arpa.gz (openslr resource 11; KenLM reads the
  gzipped ARPA file as it is; a binary made with KenLM's ``build_binary`` loads faster);
- https://dl.fbaipublicfiles.com/fairseq/wav2vec/librispeech_lexicon.lst (letters, not phones:
  openslr 11's ``librispeech-lexicon.txt`` spells words in phones and cannot drive a character CTC
  model).

An LM folder holds exactly one model file (``*.arpa``, ``*.arpa.gz`` or ``*.bin``) and
``librispeech_lexicon.lst`` (``lm_files``).

Why the ARPA writer is our own: KenLM's estimator ``lmplz`` is a C++ program that the ``kenlm``
pip package (0.3.0) does not build (its ``setup.py`` compiles only the query module); ``nltk.lm``
estimates models but writes no ARPA file, and the ``arpa`` package only reads them. The model is
interpolated absolute discounting (Ney, Essen & Kneser 1994) in ARPA back-off form: for an
n-gram seen in the transcripts, p(w | h) = max(c(h w) - D, 0) / c(h) + D N1+(h) / c(h) p(w | h'),
with D = n1 / (n1 + 2 n2) per order (n1, n2: the n-grams seen once, twice) and h' the context
without its first word; the unigrams are add-one estimates over the words, ``</s>`` and
``<unk>``; each context's back-off weight makes its distribution sum to one.
"""
from __future__ import annotations

import argparse
import math
from collections import Counter, defaultdict
from pathlib import Path

from tqdm import tqdm

from s3prl_fusion.errors import MissingPathError, SettingError

LEXICON_NAME = "librispeech_lexicon.lst"
MODEL_SUFFIXES = (".arpa", ".arpa.gz", ".bin")
SENTENCE_START, SENTENCE_END, UNKNOWN = "<s>", "</s>", "<unk>"
DEFAULT_SPLITS = ("train-clean-100",)
IMPOSSIBLE_LOG10 = -99.0  # ARPA's probability of <s>, which is never predicted


def read_transcripts(librispeech_root: Path, splits=DEFAULT_SPLITS) -> list[list[str]]:
    """The word sequences of every ``<split>/*/*/*.trans.txt`` line under ``librispeech_root`` (utterance ids dropped)."""
    librispeech_root = Path(librispeech_root)
    missing = [split for split in splits if not (librispeech_root / split).is_dir()]
    if missing:
        raise MissingPathError(f"{', '.join(str(librispeech_root / split) for split in missing)} not found: pass the LibriSpeech folder holding {', '.join(splits)} as --librispeech")
    sentences = []
    for split in splits:
        for transcript in sorted((librispeech_root / split).rglob("*.trans.txt")):
            sentences += [line.split()[1:] for line in transcript.read_text().splitlines() if len(line.split()) > 1]
    if not sentences:
        raise MissingPathError(f"no *.trans.txt transcripts under {librispeech_root}/{{{','.join(splits)}}}")
    return sentences


def ngram_counts(sentences: list[list[str]], order: int) -> list[Counter]:
    """counts[k - 1][(w1, ..., wk)]: how often each k-gram (k = 1 .. order) occurs in the sentences wrapped in <s> ... </s>."""
    counts = [Counter() for _ in range(order)]
    for words in sentences:
        tokens = [SENTENCE_START, *words, SENTENCE_END]
        for length in range(1, order + 1):
            for start in range(len(tokens) - length + 1):
                counts[length - 1][tuple(tokens[start:start + length])] += 1
    return counts


def discount(counts: Counter) -> float:
    """Ney's absolute discount D = n1 / (n1 + 2 n2) of one order, kept within [0.1, 0.9] (0.5 when n1 or n2 is 0)."""
    seen_once = sum(1 for count in counts.values() if count == 1)
    seen_twice = sum(1 for count in counts.values() if count == 2)
    if not seen_once or not seen_twice:
        return 0.5
    return min(max(seen_once / (seen_once + 2 * seen_twice), 0.1), 0.9)


def estimate(counts: list[Counter]) -> list[dict[tuple, float]]:
    """Probabilities (not logs) of each order's seen n-grams: probabilities[k - 1][(w1, ..., wk)] = p(wk | w1 .. wk-1)."""
    unigrams = Counter({gram: count for gram, count in counts[0].items() if gram != (SENTENCE_START,)})
    unigrams[(UNKNOWN,)] += 0
    total = sum(unigrams.values())
    probabilities = [{gram: (count + 1) / (total + len(unigrams)) for gram, count in unigrams.items()}]
    for order_counts in counts[1:]:
        strength = discount(order_counts)
        context_totals, context_types = Counter(), Counter()
        for gram, count in order_counts.items():
            context_totals[gram[:-1]] += count
            context_types[gram[:-1]] += 1
        lower = probabilities[-1]
        probabilities.append({
            gram: (max(count - strength, 0.0) + strength * context_types[gram[:-1]] * lower[gram[1:]]) / context_totals[gram[:-1]]
            for gram, count in order_counts.items()
        })
    return probabilities


def backoff_weights(probabilities: list[dict[tuple, float]]) -> dict[tuple, float]:
    """The back-off weight of each context followed by some word in the data: the probability mass its seen words leave,
    over the mass the shorter context gives the words not seen after it."""
    followers = defaultdict(list)
    for order_probabilities in probabilities[1:]:
        for gram in order_probabilities:
            followers[gram[:-1]].append(gram)
    weights = {}
    for context, grams in followers.items():
        left = 1.0 - sum(probabilities[len(context)][gram] for gram in grams)
        lower_left = 1.0 - sum(probabilities[len(context) - 1][gram[1:]] for gram in grams)
        weights[context] = left / lower_left
    return weights


def write_arpa(probabilities: list[dict[tuple, float]], path: Path) -> None:
    """The model as an ARPA file (log10 probabilities and back-off weights)."""
    weights = backoff_weights(probabilities)
    lines = ["\\data\\"]
    sizes = [len(probabilities[0]) + 1, *(len(order) for order in probabilities[1:])]  # + <s>
    lines += [f"ngram {order}={size}" for order, size in enumerate(sizes, start=1)]
    for order, order_probabilities in enumerate(probabilities, start=1):
        lines += ["", f"\\{order}-grams:"]
        entries = sorted(order_probabilities.items())
        if order == 1:
            entries = sorted([*entries, ((SENTENCE_START,), None)])
        for gram, probability in entries:
            log_probability = IMPOSSIBLE_LOG10 if probability is None else math.log10(probability)
            fields = [f"{log_probability:.6f}", " ".join(gram)]
            if gram in weights and order < len(probabilities):
                fields.append(f"{math.log10(weights[gram]):.6f}")
            lines.append("\t".join(fields))
    lines += ["", "\\end\\", ""]
    Path(path).write_text("\n".join(lines))


def write_lexicon(words, path: Path) -> None:
    """``WORD\\tW O R D |`` for each word, sorted (fairseq's letter-lexicon format, which s3prl's decoder reads)."""
    Path(path).write_text("".join(f"{word}\t{' '.join(word)} |\n" for word in sorted(set(words))))


def build_lm(librispeech_root: Path, out_dir: Path, order: int = 3, splits=DEFAULT_SPLITS) -> tuple[Path, Path]:
    """Write ``<out_dir>/<order>-gram.arpa`` and ``<out_dir>/librispeech_lexicon.lst``; returns both paths."""
    if order < 1:
        raise SettingError(f"--order {order}: an n-gram model has order 1 or more")
    sentences = read_transcripts(librispeech_root, splits)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = ngram_counts(tqdm(sentences, desc="n-gram counts"), order)
    model, lexicon = out_dir / f"{order}-gram.arpa", out_dir / LEXICON_NAME
    write_arpa(estimate(counts), model)
    write_lexicon((word for words in sentences for word in words), lexicon)
    return model, lexicon


def lm_files(lm_dir: Path) -> tuple[Path, Path]:
    """(KenLM model, lexicon) of an LM folder: its one ``*.arpa`` / ``*.arpa.gz`` / ``*.bin`` file and ``librispeech_lexicon.lst``."""
    lm_dir = Path(lm_dir)
    if not lm_dir.is_dir():
        raise MissingPathError(f"LM folder {lm_dir} not found: {DOWNLOAD_HINT}")
    models = sorted(path for path in lm_dir.iterdir() if path.is_file() and path.name.endswith(MODEL_SUFFIXES))
    if len(models) != 1:
        found = f"found {', '.join(path.name for path in models)}" if models else "found none"
        raise MissingPathError(f"{lm_dir} must hold exactly one KenLM model file (*.arpa, *.arpa.gz or *.bin), {found}: {DOWNLOAD_HINT}")
    lexicon = lm_dir / LEXICON_NAME
    if not lexicon.is_file():
        raise MissingPathError(f"{lexicon} not found: {DOWNLOAD_HINT}")
    return models[0], lexicon


DOWNLOAD_HINT = (
    "for SUPERB, download https://www.openslr.org/resources/11/4-gram.arpa.gz and "
    "https://dl.fbaipublicfiles.com/fairseq/wav2vec/librispeech_lexicon.lst into it; for a smoke run, "
    "s3prl-fusion prepare asr-lm --librispeech <LibriSpeech> --out <folder>"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--librispeech", required=True, help="the LibriSpeech folder whose training transcripts the model is estimated on")
    parser.add_argument("--out", required=True, help="the LM folder to write (give it to recipes/asr.sh as LM_DIR)")
    parser.add_argument("--order", type=int, default=3, help="n-gram order (default: 3)")
    parser.add_argument("--splits", nargs="+", default=list(DEFAULT_SPLITS), help="transcript splits (default: train-clean-100)")


def run(args: argparse.Namespace) -> None:
    for path in build_lm(Path(args.librispeech), Path(args.out), args.order, args.splits):
        print(path)
