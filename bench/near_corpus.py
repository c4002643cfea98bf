"""A near-duplicate corpus defined by edits in words and characters, never by the engine's own measure.

Short requests (a few sentences of Zipf-distributed pseudo-words, frequent words short as in real
language) in shuffled priority order, each with a ground-truth cluster id. A cluster is an original and
what users call the same request: exact copies, 1 word edit per ~30 words (substitution, insertion or
deletion), 1 typo per ~25 words (character insertion, deletion, substitution or transposition), two
sentences swapped, and case, punctuation and spacing noise on every variant. Hard negatives are their own
clusters: the same opening and first part of an original with a different rest, or the original's
sentences with one of them replaced. Nothing here shingles, hashes or measures a Jaccard: the labels are
the edits made.
"""

from __future__ import annotations

import random
import unicodedata

import numpy as np
import polars as pl

KINDS = ("original", "exact", "words", "typos", "reorder", "noise", "negative")


def make_vocabulary(rng: random.Random, size: int) -> list[str]:
    """Distinct lowercase pseudo-words, shortest first with some shuffling (frequent words are short)."""
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["th", "st", "er", "an", "qu"]
    accents = {"e": "é", "u": "ü", "n": "ñ", "a": "à", "o": "ô"}
    words: set[str] = set()
    while len(words) < size:
        word = "".join(rng.choices(syllables, k=rng.choice([1, 1, 2, 2, 2, 3, 3, 4])))
        if rng.random() < 0.5:
            word = word[:-1]  # odd lengths too
        if rng.random() < 0.04:
            i = rng.randrange(len(word))
            word = word[:i] + accents.get(word[i], word[i]) + word[i + 1 :]
        if word:
            words.add(word)
    return sorted(sorted(words), key=lambda w: len(w) + rng.uniform(-2.5, 2.5))


class Corpus:
    """Draws sentences and applies the edits; one seeded generator for the whole corpus."""

    def __init__(self, seed: int, vocab_size: int = 30_000, zipf: float = 1.05) -> None:
        self.rng = random.Random(seed)
        self.vocab = make_vocabulary(self.rng, vocab_size)
        self.cdf = np.cumsum(1.0 / np.arange(1, vocab_size + 1) ** zipf)
        self.draw_rng = np.random.default_rng(seed)
        self.pool: list[int] = []
        self.openings = [self.words(self.rng.randint(2, 6), head=min(400, vocab_size)) for _ in range(300)]

    def words(self, n: int, head: int | None = None) -> list[str]:
        if head is not None:
            return [self.vocab[self.rng.randrange(head)] for _ in range(n)]
        if len(self.pool) < n:
            self.pool.extend(np.searchsorted(self.cdf, self.draw_rng.random(1 << 18) * self.cdf[-1]).tolist())
        taken = self.pool[-n:]
        del self.pool[-n:]
        return [self.vocab[i] for i in taken]

    def original(self, low: int, high: int) -> list[list[str]]:
        """Sentences (lists of words) of a new request: low..high words in 1-4 sentences."""
        total = self.rng.randint(low, high)
        opening = self.rng.choice(self.openings)
        body = opening + self.words(max(1, total - len(opening)))
        cuts = sorted(self.rng.sample(range(3, len(body) - 2), min(self.rng.randint(0, 3), len(body) // 6)))
        return [body[i:j] for i, j in zip([0, *cuts], [*cuts, len(body)], strict=True) if body[i:j]]

    def edit_words(self, sentences: list[list[str]], edits: int) -> list[list[str]]:
        out = [list(s) for s in sentences]
        for _ in range(edits):
            sentence = self.rng.choice([s for s in out if s])
            at = self.rng.randrange(len(sentence))
            op = self.rng.random()
            if op < 0.6:
                sentence[at] = self.words(1)[0]
            elif op < 0.8 or len(sentence) < 3:
                sentence.insert(at, self.words(1)[0])
            else:
                del sentence[at]
        return out

    def typos(self, sentences: list[list[str]], edits: int) -> list[list[str]]:
        out = [list(s) for s in sentences]
        letters = "abcdefghijklmnoprstuvwyz"
        for _ in range(edits):
            sentence = self.rng.choice(out)
            at = self.rng.randrange(len(sentence))
            word = sentence[at]
            i = self.rng.randrange(len(word))
            op = self.rng.random()
            if op < 0.3:
                word = word[:i] + self.rng.choice(letters) + word[i + 1 :]
            elif op < 0.55:
                word = word[:i] + self.rng.choice(letters) + word[i:]
            elif op < 0.8 and len(word) > 1:
                word = word[:i] + word[i + 1 :]
            elif i + 1 < len(word):
                word = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
            else:
                word = word + self.rng.choice(letters)
            sentence[at] = word
        return out

    def reorder(self, sentences: list[list[str]]) -> list[list[str]]:
        out = [list(s) for s in sentences]
        if len(out) >= 2:
            i, j = self.rng.sample(range(len(out)), 2)
            out[i], out[j] = out[j], out[i]
        else:  # one sentence: move its second half to the front, as "X, Y" -> "Y, X"
            half = len(out[0]) // 2
            out[0] = out[0][half:] + out[0][:half]
        return out

    def negative(self, sentences: list[list[str]]) -> list[list[str]]:
        """Another request: the same opening and first 30-50% of the words, or one sentence of several kept."""
        flat = [w for s in sentences for w in s]
        if len(sentences) >= 3 and self.rng.random() < 0.5:
            keep = self.rng.randrange(len(sentences))
            return [s if i == keep else self.words(len(s)) for i, s in enumerate(sentences)]
        keep = int(len(flat) * self.rng.uniform(0.3, 0.5))
        return [flat[:keep] + self.words(len(flat) - keep)]

    def render(self, sentences: list[list[str]], noise: float) -> str:
        """Join sentences into text with case, punctuation and spacing noise (normalisation removes it)."""
        parts = []
        for sentence in sentences:
            words = []
            for word in sentence:
                roll = self.rng.random()
                if roll < noise:
                    kind = self.rng.randrange(6)
                    if kind == 0:
                        word = word.upper()
                    elif kind == 1:
                        word = word.capitalize()
                    elif kind == 2:
                        word = f"“{word}”" if roll < noise / 2 else f"({word})"
                    elif kind == 3:
                        word = unicodedata.normalize("NFD", word)
                    elif kind == 4:
                        word += self.rng.choice([",", ":", ";", " —", "!"])
                    else:
                        word += self.rng.choice(["  ", "\n", "\t"])
                words.append(word)
            words[0] = words[0].capitalize()
            parts.append(" ".join(words) + self.rng.choice([".", "?", "!", "", "..."]))
        return " ".join(parts)


def generate_corpus(
    rows: int, seed: int, low: int = 20, high: int = 80, vocab_size: int = 30_000, zipf: float = 1.05
) -> pl.DataFrame:
    """`rows` texts of low..high words with columns text, cluster and kind, in a random priority order."""
    corpus = Corpus(seed, vocab_size, zipf)
    rng = corpus.rng
    texts: list[str] = []
    clusters: list[int] = []
    kinds: list[str] = []
    cluster = 0
    while len(texts) < rows:
        sentences = corpus.original(low, high)
        n_words = sum(len(s) for s in sentences)
        family = [(corpus.render(sentences, 0.0), "original")]
        roll = rng.random()
        if roll < 0.15:
            family += [(family[0][0], "exact")] * rng.randint(1, 3)
        elif roll < 0.55:
            for _ in range(rng.randint(1, 4)):
                kind = rng.choice(["words", "typos", "reorder", "noise"])
                if kind == "words":
                    variant = corpus.edit_words(sentences, rng.randint(1, max(1, n_words // 30)))
                elif kind == "typos":
                    variant = corpus.typos(sentences, rng.randint(1, max(1, n_words // 25)))
                elif kind == "reorder":
                    variant = corpus.reorder(sentences)
                else:
                    variant = sentences
                family.append((corpus.render(variant, 0.12), kind))
        for text, kind in family:
            texts.append(text)
            clusters.append(cluster)
            kinds.append(kind)
        cluster += 1
        if roll >= 0.85:
            for _ in range(rng.randint(1, 2)):
                texts.append(corpus.render(corpus.negative(sentences), 0.05))
                clusters.append(cluster)
                kinds.append("negative")
                cluster += 1
    order = np.random.default_rng(seed).permutation(rows)
    frame = pl.DataFrame({"text": texts[:rows], "cluster": clusters[:rows], "kind": kinds[:rows]})
    return frame[order]
