"""Text-to-speech with espeak-ng through its C API (ctypes), for the synthetic replicas.

The ``espeakng-loader`` wheel ships ``libespeak-ng.so`` and its ``espeak-ng-data`` directory but no
Python binding, so this module declares the few functions it needs (``speak_lib.h``) and calls them
with ctypes. Audio comes back through the synthesis callback in 22,050 Hz int16 chunks and is
resampled to 16 kHz.

espeak-ng keeps its state in globals: one synthesiser per process, never used from several threads.
Its waveform generator also carries state (pitch phase, flutter, echo buffer) from one utterance to the
next, so an utterance's samples depend on what the process synthesised before it. Callers that need
byte-identical output (the replicas) therefore synthesise a fixed sequence of utterances in a fresh
process, and seed espeak's random generator before each utterance (``seed``).
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000

# speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # report errors instead of calling exit()
_POS_CHARACTER = 1
_CHARS_AUTO = 0
_ENDPAUSE = 0x1000  # a pause at the end of the text, as at the end of a sentence
_RATE = 1
_PITCH = 3
_EE_OK = 0
_EE_NOT_FOUND = 2

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

MIN_RATE_WPM, MAX_RATE_WPM = 80, 450  # espeakRATE limits of espeak-ng


class EspeakError(RuntimeError):
    """espeak-ng could not be loaded, initialised, or could not synthesise (the message says which)."""


def _default_paths() -> tuple[Path, Path]:
    try:
        import espeakng_loader
    except ImportError as e:
        raise EspeakError("espeak-ng is not available: install espeakng-loader==0.2.4") from e
    return Path(espeakng_loader.get_library_path()), Path(espeakng_loader.get_data_path())


def available_voices(data_path: Path | None = None) -> set[str]:
    """Lower-cased file names of the voices under ``espeak-ng-data/lang`` (``en``, ``en-us``, ...)."""
    data_path = Path(data_path) if data_path is not None else _default_paths()[1]
    return {path.name.lower() for path in (data_path / "lang").rglob("*") if path.is_file()}


def available_variants(data_path: Path | None = None) -> set[str]:
    """File names of the voice variants under ``espeak-ng-data/voices/!v`` (``m1``, ``f3``, ...)."""
    data_path = Path(data_path) if data_path is not None else _default_paths()[1]
    return {path.name for path in (data_path / "voices" / "!v").iterdir() if path.is_file()}


class EspeakSynthesizer:
    """espeak-ng in this process: ``synthesize(text, voice, variant, rate_wpm, pitch)`` -> 16 kHz audio.

    ``library_path`` and ``data_path`` (the ``espeak-ng-data`` directory) default to the ones shipped by
    ``espeakng-loader``. Create one per process and call it from the thread that created it.
    """

    def __init__(self, library_path: Path | None = None, data_path: Path | None = None) -> None:
        if library_path is None or data_path is None:
            default_library, default_data = _default_paths()
            library_path = library_path or default_library
            data_path = data_path or default_data
        self.library_path = Path(library_path)
        self.data_path = Path(data_path)
        if not (self.data_path / "phontab").is_file():
            raise EspeakError(f"{self.data_path}: not an espeak-ng-data directory (no phontab)")
        try:
            self._lib = ctypes.CDLL(str(self.library_path))
        except OSError as e:
            raise EspeakError(f"cannot load the espeak-ng library {self.library_path}: {e}") from e
        self._declare_functions()

        # espeak_Initialize wants the directory that *contains* espeak-ng-data.
        native_rate = self._lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(self.data_path.parent).encode(), _INITIALIZE_DONT_EXIT
        )
        if native_rate <= 0:
            raise EspeakError(f"espeak_Initialize failed with data {self.data_path} (code {native_rate})")
        self.native_rate: int = native_rate
        self._thread = threading.get_ident()
        self._chunks: list[np.ndarray] = []
        # Keep a reference: if the CFUNCTYPE object were garbage-collected, espeak would call freed memory.
        self._callback = _SynthCallback(self._on_audio)

    def _declare_functions(self) -> None:
        lib = self._lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = None
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_Synth.restype = ctypes.c_int

    def _on_audio(self, wav: ctypes._Pointer, num_samples: int, events: int) -> int:
        if num_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        return 0  # 0: continue synthesis

    def synthesize_native(
        self, text: str, voice: str, variant: str | None = None, rate_wpm: int = 175, pitch: int = 50, seed: int = 0
    ) -> np.ndarray:
        """``text`` spoken by ``voice`` (+ ``variant``) as int16 samples at ``self.native_rate`` (22,050 Hz)."""
        if threading.get_ident() != self._thread:
            raise EspeakError("espeak-ng state is global to the process: call the synthesiser from one thread only")
        if not MIN_RATE_WPM <= rate_wpm <= MAX_RATE_WPM:
            raise ValueError(f"rate_wpm={rate_wpm}: espeak-ng accepts {MIN_RATE_WPM}-{MAX_RATE_WPM} words per minute")
        if not 0 <= pitch <= 100:
            raise ValueError(f"pitch={pitch}: espeak-ng accepts 0-100")
        name = voice
        if variant:
            variants_dir = self.data_path / "voices" / "!v"
            if not (variants_dir / variant).is_file():
                raise EspeakError(f"espeak-ng voice variant {variant!r} not found in {variants_dir}")
            name = f"{voice}+{variant}"
        status = self._lib.espeak_SetVoiceByName(name.encode())
        if status == _EE_NOT_FOUND:
            raise EspeakError(f"espeak-ng voice {voice!r} not found in {self.data_path} (e.g. en, en-us, en-gb-x-rp)")
        if status != _EE_OK:
            raise EspeakError(f"espeak_SetVoiceByName({name!r}) failed (code {status})")
        # After the voice: selecting a voice resets rate and pitch to the voice's defaults.
        self._lib.espeak_SetParameter(_RATE, int(rate_wpm), 0)
        self._lib.espeak_SetParameter(_PITCH, int(pitch), 0)
        self._lib.espeak_ng_SetRandSeed(int(seed))

        data = text.encode("utf-8") + b"\0"
        self._chunks = []
        self._lib.espeak_SetSynthCallback(self._callback)
        status = self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_AUTO | _ENDPAUSE, None, None)
        if status != _EE_OK:
            raise EspeakError(f"espeak_Synth failed (code {status}) for voice {name!r} and text {text!r}")
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.int16)
        self._chunks = []
        return samples

    def synthesize(
        self, text: str, voice: str, variant: str | None = None, rate_wpm: int = 175, pitch: int = 50, seed: int = 0
    ) -> np.ndarray:
        """``text`` spoken by ``voice`` (+ ``variant``) as float32 samples in [-1, 1] at 16 kHz.

        ``voice`` is a voice file name (``en``, ``en-us``, ``en-gb-scotland``, ``en-029``, ...),
        ``variant`` a file of ``espeak-ng-data/voices/!v`` (``m3``, ``f2``, ...), ``rate_wpm`` words per
        minute, ``pitch`` 0-100, ``seed`` espeak's random generator (used by some variants).
        """
        from scipy.signal import resample_poly

        native = self.synthesize_native(text, voice, variant, rate_wpm, pitch, seed)
        audio = native.astype(np.float32) / 32768.0
        if self.native_rate != SAMPLE_RATE:
            divisor = np.gcd(SAMPLE_RATE, self.native_rate)
            audio = resample_poly(audio, SAMPLE_RATE // divisor, self.native_rate // divisor).astype(np.float32)
        return audio
