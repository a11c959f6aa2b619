"""Named-entity masking: "Rhetoric, not topic".

A sentence about Putin and the same sentence about Macron use the same rhetoric; a bag of words
and characters sees two different sentences, and learns which names tend to sit in propaganda.
:class:`EntityMasker` replaces every name of the project's gazetteer (``data/entities.toml``:
countries, capitals and contested places, politicians and heads of state, parties and movements,
organisations and news outlets, and optionally nationalities) by the token of its kind, e.g.
``Xpersonx``, before the shared sentence features read the text. Swapping one name for another of
the same kind then leaves the features, and so the probabilities, exactly as they were.

The tokens are capitalised single words, so that features reading the form of a sentence (a
capitalised name before "said" in :mod:`proplens.figures`) still see a name where there was one;
the vectorizers lower-case them. Matching is case-sensitive (``Labour`` the party, not ``labour``),
longest name first and on whole words, see the header of the gazetteer for the rules.

The masker is a fitted object: ``fit`` copies the gazetteer's names into the estimator, so a model
file keeps the names it was trained with even when the package's list grows later. The compiled
regex is rebuilt on first use and left out of pickles.
"""

from __future__ import annotations

import re
import threading
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from proplens.errors import ValidationError

__all__ = [
    "DEFAULT_KINDS",
    "EntityMasker",
    "Gazetteer",
    "load_gazetteer",
    "map_to_original",
    "map_to_masked",
]

#: The kinds masked by default. ``nationality`` is available but not masked by default: in grouped
#: 5-fold CV it took a further 0.007 of sentence-level F1 (0.585 -> 0.578) for nationality-swap
#: invariance (docs/architecture.md, "Entity masking").
DEFAULT_KINDS = ("country", "place", "person", "party", "organisation")

# Texts are masked in one pass over their concatenation; this character separates them (a text
# that contains it is masked on its own).
_SEPARATOR = "\x00"
# An ALL-CAPS copy of a name is matched too when it has at least this many letters ("TRUMP").
_MIN_CAPS_LETTERS = 4
# Around a shouted word ("US", "WHO"), the words within this many characters each side decide
# whether the text is written in capitals (see _in_capitals).
_SHOUT_WINDOW = 24
_APOSTROPHES = ("'", "’")


@dataclass(frozen=True)
class Gazetteer:
    """The names of ``data/entities.toml``: ``kinds`` maps a kind to ``(token, names)``."""

    kinds: dict[str, tuple[str, tuple[str, ...]]]
    shouted_words: frozenset[str]
    keep: tuple[str, ...]


@lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    """The gazetteer shipped inside the package (read once)."""
    source = resources.files("proplens").joinpath("data", "entities.toml")
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    kinds = {
        kind: (str(entry["token"]), tuple(str(name) for name in entry["names"]))
        for kind, entry in data["kinds"].items()
    }
    rules = data.get("rules", {})
    return Gazetteer(
        kinds,
        frozenset(rules.get("shouted_words", ())),
        tuple(rules.get("keep", ())),
    )


def _spellings(name: str) -> list[str]:
    """The name, its other apostrophe, and its ALL-CAPS copy when it has enough letters."""
    forms = [name]
    for a, b in (_APOSTROPHES, _APOSTROPHES[::-1]):
        if a in name:
            forms.append(name.replace(a, b))
    if sum(c.isalpha() for c in name) >= _MIN_CAPS_LETTERS:
        forms += [form.upper() for form in forms if form.upper() != form]
    return forms


def _trie_pattern(words: Sequence[str]) -> str:
    """One regex alternation of ``words`` factored by common prefixes, longest match first.

    Python's regex engine tries the branches of a flat alternation one by one at every position;
    a prefix tree tries one branch per character, and a pattern that starts with a branch of
    literal characters lets the engine skip every position that cannot start a name.
    """
    root: dict = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict) -> str:
        ends_here = "" in node
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # greedy: the longer name is tried first, the name ending here only if it fails
        if ends_here:
            return f"(?:{body})?" if len(branches) > 1 or len(body) > 1 else f"{body}?"
        return body

    return emit(root)


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


# the word after a name: letters, digits, apostrophes and hyphens, maybe a closing full stop
_NEXT_WORD = re.compile(r" ([\w'’-]+\.?)(?![\w'’-])")
# words of multi-word names that join a neighbouring name only as part of a whole name
_NOT_NAME_WORDS = frozenset(["The", "THE", "A", "An", "Of", "OF", "And", "AND", "For", "FOR"])


def _is_name_word(word: str) -> bool:
    """A capitalised word of a multi-word name that may join a neighbouring name of its kind."""
    return bool(word) and word[0].isupper() and word not in _NOT_NAME_WORDS


def map_to_original(position: int, edits: Sequence[tuple[int, int, int, int]], *, end: bool):
    """A character position of a masked text, as a position of the original text.

    ``edits`` are ``(original_start, original_end, masked_start, masked_end)`` of each masked name
    (see :meth:`EntityMasker.mask_with_edits`). A position strictly inside a kind token maps to
    the start of the name (``end=False``) or its end (``end=True``).

    >>> edits = [(4, 9, 4, 12)]  # "The Putin era" -> "The Xpersonx era"
    >>> map_to_original(4, edits, end=False), map_to_original(12, edits, end=True)
    (4, 9)
    >>> map_to_original(16, edits, end=True)
    13
    """
    return _map_position(position, [(m_s, m_e, o_s, o_e) for o_s, o_e, m_s, m_e in edits], end)


def map_to_masked(position: int, edits: Sequence[tuple[int, int, int, int]], *, end: bool):
    """A character position of the original text, as a position of the masked text (the inverse
    of :func:`map_to_original`; a position strictly inside a name maps to its token's start or
    end)."""
    return _map_position(position, [(o_s, o_e, m_s, m_e) for o_s, o_e, m_s, m_e in edits], end)


def _map_position(position: int, pairs, end: bool) -> int:
    """``position`` of a text whose spans ``(start, end)`` became ``(new_start, new_end)``."""
    shift = 0
    for start, stop, new_start, new_stop in pairs:
        if position <= start:
            break
        if position < stop:
            return new_stop if end else new_start
        shift = new_stop - stop
    return position + shift


class EntityMasker(TransformerMixin, BaseEstimator):
    """Replaces the names of the gazetteer by the token of their kind (see the module docstring).

    Parameters
    ----------
    kinds : sequence of str or None
        The kinds of names to mask; None masks :data:`DEFAULT_KINDS`. ``"nationality"`` adds
        demonyms ("American", "Russians").

    >>> masker = EntityMasker().fit()
    >>> masker.mask(["Putin met the UN envoy; Labour and the labour market in Turkey came up."])
    ['Xpersonx met the Xorganisationx envoy; Xpartyx and the labour market in Xcountryx came up.']
    """

    def __init__(self, kinds: Sequence[str] | None = None):
        self.kinds = kinds

    def fit(self, X=None, y=None):
        gazetteer = load_gazetteer()
        kinds = list(DEFAULT_KINDS if self.kinds is None else self.kinds)
        unknown = [kind for kind in kinds if kind not in gazetteer.kinds]
        if unknown:
            known = ", ".join(gazetteer.kinds)
            raise ValidationError(f"unknown entity kind(s): {', '.join(unknown)} (known: {known})")
        replacements: dict[str, str] = {}
        # the written forms first, then the generated spellings, so that a name as written wins
        # over another name's ALL-CAPS copy; earlier kinds win over later ones
        for generated in (False, True):
            for kind in kinds:
                token, names = gazetteer.kinds[kind]
                for name in names:
                    forms = _spellings(name)
                    for form in forms[1:] if generated else forms[:1]:
                        replacements.setdefault(form, token)
        for phrase in gazetteer.keep:
            for form in _spellings(phrase):
                replacements.setdefault(form, form)
        self.kinds_ = kinds
        self.replacements_ = replacements
        self.shouted_words_ = sorted(gazetteer.shouted_words & set(replacements))
        self.n_features_in_ = 1
        return self

    # -- matching --------------------------------------------------------------------------------
    def _compiled(self) -> _Matcher:
        matcher = self.__dict__.get("_matcher")
        if matcher is None:
            with _COMPILE_LOCK:
                matcher = self.__dict__.get("_matcher")
                if matcher is None:
                    matcher = self._matcher = _Matcher(self.replacements_, self.shouted_words_)
        return matcher

    def mask(self, texts: Sequence[str]) -> list[str]:
        """Every text with its names replaced by their kind's token (one regex pass for all)."""
        check_is_fitted(self, "replacements_")
        texts = list(texts)
        if not texts:
            return []
        matcher = self._compiled()
        joined = _SEPARATOR.join(texts)
        if joined.count(_SEPARATOR) != len(texts) - 1:
            return [matcher.mask(text) for text in texts]
        return matcher.mask(joined).split(_SEPARATOR)

    def mask_with_edits(self, text: str) -> tuple[str, list[tuple[int, int, int, int]]]:
        """One masked text and its edits ``(original_start, original_end, masked_start,
        masked_end)``, one per name replaced, in order (see :func:`map_to_original`)."""
        check_is_fitted(self, "replacements_")
        parts, edits = [], []
        position = shift = 0
        for start, end, token in self._compiled().names(text):
            parts += [text[position:start], token]
            edits.append((start, end, start + shift, start + shift + len(token)))
            shift += len(token) - (end - start)
            position = end
        parts.append(text[position:])
        return "".join(parts), edits

    # -- scikit-learn ------------------------------------------------------------------------------
    def transform(self, X):
        if isinstance(X, str):
            raise ValidationError("expected an iterable of texts, got one string")
        return self.mask(X)

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_matcher", None)  # compiled on first use; never pickled
        return state


_COMPILE_LOCK = threading.Lock()


class _Matcher:
    """The compiled form of a masker's names: one regex, and what each match is replaced by.

    Names that start with a lower-case particle ("al-Assad", "von der Leyen", "#MeToo") are
    searched by the capitalised rest ("Assad", "Leyen", "MeToo") and extended to the left when the
    particle is there: a regex whose every name starts with a capital letter lets the engine skip
    all other positions quickly (3x faster on news text than one that may start at "al-" or "de").

    A name also takes in the capitalised words next to it that belong to names of its kind
    ("Hunter" + "Biden", "Likud" + "Party", "Donald" + any listed surname), and two names of one
    kind separated by a space are one name ("Hillary Rodham"): a person is one token however
    much of the name is written, so that writing or swapping part of a name changes nothing.
    """

    def __init__(self, replacements: dict[str, str], shouted_words):
        self.replacements = {}
        self.particles: dict[str, list[tuple[str, str]]] = {}
        for surface, token in replacements.items():
            first_capital = next((i for i, c in enumerate(surface) if c.isupper()), 0)
            if first_capital == 0:
                self.replacements[surface] = token
            else:
                particle, rest = surface[:first_capital], surface[first_capital:]
                self.particles.setdefault(rest, []).append((particle, token))
        # the particles of a kind's names precede any name of that kind ("Bashar al-" + a surname)
        self.kind_particles: dict[str, tuple[str, ...]] = {}
        for options in self.particles.values():
            for particle, token in options:
                if particle.strip() not in ("#", ""):
                    self.kind_particles[token] = (*self.kind_particles.get(token, ()), particle)
        for options in self.particles.values():
            options.sort(key=lambda option: -len(option[0]))  # the longest particle first
        for token, particles in self.kind_particles.items():
            self.kind_particles[token] = tuple(sorted(set(particles), key=lambda p: (-len(p), p)))
        names = sorted(set(self.replacements) | set(self.particles))
        self.regex = re.compile(_trie_pattern(names) + r"(?!\w)")
        self.shouted = frozenset(shouted_words)
        # per token: the words that open (left) and close (right) its multi-word names
        self.left_words: dict[str, set[str]] = {}
        self.right_words: dict[str, set[str]] = {}
        for surface, token in replacements.items():
            words = surface.split(" ")
            if token == surface or len(words) < 2:
                continue
            self.left_words.setdefault(token, set()).update(
                w for w in words[:-1] if _is_name_word(w)
            )
            self.right_words.setdefault(token, set()).update(
                w for w in words[1:] if _is_name_word(w)
            )
        # The names a match is usually of, with their token: no particle may precede them, they
        # are no shouted word and no phrase of the keep list. A match of any other name takes
        # the full rules (_special_name).
        self.plain = {
            name: token
            for name, token in self.replacements.items()
            if name not in self.particles and name not in self.shouted and token != name
        }

    def names(self, text: str) -> list[tuple[int, int, str]]:
        """``(start, end, token)`` of every name of ``text`` to replace, in order.

        Called once for a whole batch of sentences, with a few thousand matches: the usual match
        (a plain name after a space, with no capitalised word of its kind next to it) is kept to
        a few cheap tests, and the rare cases go through the full rules.
        """
        plain, kind_particles, left_words = self.plain, self.kind_particles, self.left_words
        found_names = []
        append = found_names.append
        position = 0  # nothing before this may be part of a new name
        # the last name found, kept once the next one cannot join it (pending_token None: none)
        pending_start = pending_end = 0
        pending_token = None
        for match in self.regex.finditer(text):
            start, end = match.span()
            if start < position:
                continue  # inside a name already taken
            found = match[0]
            token = plain.get(found)
            if token is None:
                start, token = self._special_name(text, found, start, end, position)
                if token is None:
                    continue
                if token == found:  # a phrase of the keep list stays as it is
                    position = end
                    continue
            elif start:
                # a name never starts inside a word ("McTrump"); _is_word_char, inlined
                before = text[start - 1]
                if before != " " and (before.isalnum() or before == "_"):
                    continue
            # one C-level test for the usual case of no particle before the name
            particles_of_kind = kind_particles.get(token)
            if particles_of_kind and text.endswith(particles_of_kind, position, start):
                for particle in particles_of_kind:
                    begin = start - len(particle)
                    if (
                        begin >= position
                        and text.startswith(particle, begin)
                        and not (begin and _is_word_char(text[begin - 1]))
                    ):
                        start = begin
                        break
            # A neighbouring word can join the name only if it is capitalised, and only a word
            # of the kind's names: test the word before here (usually it is none of them) and
            # leave the rest of the rule to _extend_left.
            if start >= 2 and text[start - 1] == " ":
                words = left_words.get(token)
                if words:
                    begin = text.rfind(" ", position, start - 1) + 1
                    if text[begin if begin > position else position : start - 1] in words:
                        start = self._extend_left(text, start, token, position)
            if text.startswith(" ", end) and text[end + 1 : end + 2].isupper():
                end = self._extend_right(text, end, token)
            # a name of the same kind one space after the last one joins it
            if token == pending_token and start - pending_end == 1 and text[start - 1] == " ":
                pending_end = position = end
                continue
            if pending_token is not None:
                append((pending_start, pending_end, pending_token))
            pending_start, pending_end, pending_token = start, end, token
            position = end
        if pending_token is not None:
            append((pending_start, pending_end, pending_token))
        return found_names

    def _special_name(self, text: str, found: str, start: int, end: int, position: int):
        """``(start, token)`` of a match that is not of a plain name (``token`` None to skip it):
        the rest of a name with a particle ("Assad" of "al-Assad"), a shouted word, a phrase of
        the keep list (whose token is itself)."""
        for particle, candidate in self.particles.get(found, ()):
            begin = start - len(particle)
            if (
                begin >= position
                and text.startswith(particle, begin)
                and not (begin and _is_word_char(text[begin - 1]))
            ):
                return begin, candidate
        replacements = self.replacements
        token = replacements.get(found)
        # a name never starts inside a word ("McTrump"), and a shouted word stays itself in
        # capitals ("LET US PRAY")
        if (
            token is None
            or (start and _is_word_char(text[start - 1]))
            or (found in self.shouted and _in_capitals(text, start, end, replacements))
        ):
            return start, None
        return start, token

    def _extend_left(self, text: str, start: int, token: str, floor: int) -> int:
        words = self.left_words.get(token)
        while words and start >= 2 and text[start - 1] == " ":
            begin = text.rfind(" ", floor, start - 1) + 1
            begin = max(begin, floor)
            if text[begin : start - 1] not in words or (begin and _is_word_char(text[begin - 1])):
                break
            start = begin
        return start

    def _extend_right(self, text: str, end: int, token: str) -> int:
        words = self.right_words.get(token)
        while words:
            following = _NEXT_WORD.match(text, end)
            if following is None:
                break
            word = following.group(1)
            if word in words:
                end = following.end()
            elif word.endswith(".") and word[:-1] in words:
                end = following.end() - 1
            else:
                break
        return end

    def mask(self, text: str) -> str:
        found_names = self.names(text)
        if not found_names:
            return text
        parts = []
        append = parts.append
        position = 0
        for start, end, token in found_names:
            append(text[position:start])
            append(token)
            position = end
        parts.append(text[position:])
        return "".join(parts)


def _in_capitals(text: str, start: int, end: int, names) -> bool:
    """Whether ``text[start:end]`` stands in all-caps text: the nearest word before or after it
    (in the same text) that is no name itself is written in capitals ("LET US PRAY", "WHO IS HE",
    but not "the US, UK and France")."""
    left = max(text.rfind(_SEPARATOR, 0, start) + 1, start - _SHOUT_WINDOW)
    right = text.find(_SEPARATOR, end, end + _SHOUT_WINDOW)
    right = end + _SHOUT_WINDOW if right < 0 else right
    before, after = _LETTERS.findall(text, left, start), _LETTERS.findall(text, end, right)
    for words in (reversed(before), after):
        word = next((w for w in words if w not in names), "")
        if len(word) >= 2 and word.isupper():
            return True
    return False


_LETTERS = re.compile(r"[^\W\d_]+")
