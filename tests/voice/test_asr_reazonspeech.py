"""The ReazonSpeech engines: the k2 loader drives sherpa-onnx with the published file layout (proved with
tiny generated ONNX models that have the zipformer transducer export's inputs, outputs and metadata),
the model import is crash-safe, and the optional ESPnet engine explains itself when it is not installed."""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
import wave
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from voice.asr import espnet, reazonspeech
from voice.asr.reazonspeech import ReazonSpeechRecognizer, model_name
from voice.asr.whisper import ModelProblem

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SAID, OTHER = "予約をお願いします", "キャンセル"
VOCAB = ["<blk>", *dict.fromkeys(SAID + OTHER)]  # one tokens.txt for every generated model
LOGIT = 2.0  # the joiner's margin for the token of each frame; sets the confidence exactly
DIM = 16  # encoder/decoder output size: frames past it are blank


def _save(graph, path: Path, metadata: dict) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    for key, value in metadata.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=str(value)))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def make_model(folder: Path, text: str = SAID, suffix: str = ".onnx", decoder_metadata: bool = True) -> Path:
    """A transducer that says `text` whenever it hears anything: the encoder (x [N,T,80], x_lens [N] ->
    encoder_out [N,T,DIM], encoder_out_lens [N]) emits a one-hot of the frame index, zeroed when every
    feature is at the silence floor; the decoder (y [N,2] int64 -> decoder_out [N,DIM]) adds nothing; the
    joiner (encoder_out, decoder_out -> logit [N,vocab]) favours the i-th character at frame i and blank
    after. sherpa-onnx reads vocab_size and context_size from the decoder's metadata."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = VOCAB
    (folder / "tokens.txt").write_text("".join(f"{t} {i}\n" for i, t in enumerate(vocab)), encoding="utf-8")

    def const(name, value):
        return numpy_helper.from_array(np.asarray(value), name)

    def io(name, kind, shape):
        return helper.make_tensor_value_info(name, kind, shape)

    encoder = helper.make_graph([
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "one"], ["T"], axis=0),
        helper.make_node("Range", ["zero", "T", "one"], ["t"]),
        helper.make_node("OneHot", ["t", "depth", "off_on"], ["frame"], axis=-1),
        helper.make_node("ReduceMax", ["x"], ["peak"], axes=[1, 2], keepdims=1),
        helper.make_node("Greater", ["peak", "floor"], ["heard"]),
        helper.make_node("Cast", ["heard"], ["gate"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["gate", "frame"], ["encoder_out"]),
        helper.make_node("Identity", ["x_lens"], ["encoder_out_lens"]),
    ], "encoder", [io("x", TensorProto.FLOAT, ["N", "T", 80]), io("x_lens", TensorProto.INT64, ["N"])],
        [io("encoder_out", TensorProto.FLOAT, ["N", "T", DIM]), io("encoder_out_lens", TensorProto.INT64, ["N"])],
        [const("zero", np.int64(0)), const("one", np.int64(1)), const("depth", np.array([DIM], np.int64)),
         const("off_on", np.array([0, 1], np.float32)), const("floor", np.float32(0.0))])
    _save(encoder, folder / model_name("encoder", suffix),
          {"model_type": "zipformer2", "version": "1", "model_author": "madoguchi tests"})

    decoder = helper.make_graph([
        helper.make_node("Cast", ["y"], ["y_float"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["y_float", "weight"], ["decoder_out"]),
    ], "decoder", [io("y", TensorProto.INT64, ["N", 2])], [io("decoder_out", TensorProto.FLOAT, ["N", DIM])],
        [const("weight", np.zeros((2, DIM), np.float32))])
    _save(decoder, folder / model_name("decoder", suffix),
          {"context_size": 2, "vocab_size": len(vocab)} if decoder_metadata else {})

    weight, bias = np.zeros((DIM, len(vocab)), np.float32), np.zeros(len(vocab), np.float32)
    bias[0] = 20.0  # blank, unless the frame is one of text's
    for i, char in enumerate(text):
        weight[i, 0], weight[i, vocab.index(char)] = -20.0, LOGIT
    joiner = helper.make_graph([
        helper.make_node("Add", ["encoder_out", "decoder_out"], ["both"]),
        helper.make_node("MatMul", ["both", "weight"], ["scores"]),
        helper.make_node("Add", ["scores", "bias"], ["logit"]),
    ], "joiner", [io("encoder_out", TensorProto.FLOAT, ["N", DIM]), io("decoder_out", TensorProto.FLOAT, ["N", DIM])],
        [io("logit", TensorProto.FLOAT, ["N", len(vocab)])], [const("weight", weight), const("bias", bias)])
    _save(joiner, folder / model_name("joiner", suffix), {"joiner_dim": DIM})
    return folder


def speech(seconds: float, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 3000, int(seconds * 16000)).astype(np.int16)


class Spy:
    """Stands in for the sherpa-onnx recogniser and keeps every waveform it was given."""

    def __init__(self, real):
        self.real, self.waves = real, []

    def create_stream(self):
        stream = SimpleNamespace(real=self.real.create_stream())
        stream.accept_waveform = lambda rate, wave: (self.waves.append(np.array(wave)),
                                                     stream.real.accept_waveform(rate, wave))
        return stream

    def decode_stream(self, stream):
        self.real.decode_stream(stream.real)
        stream.result = stream.real.result


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("models") / reazonspeech.FOLDER_NAME)


@pytest.mark.parametrize("decoding", ["greedy_search", "modified_beam_search"])
def test_published_layout_is_recognised(model, decoding):
    """tokens.txt + encoder/decoder/joiner-epoch-99-avg-1.onnx load in sherpa-onnx and decode to the
    expected text; the confidence is the geometric mean of the token probabilities sherpa-onnx reports."""
    assert reazonspeech.check(model) == []
    result = ReazonSpeechRecognizer(model, threads=1, decoding=decoding).transcribe(speech(1.5))
    assert result.text == SAID
    assert result.confidence == round(math.exp(LOGIT) / (math.exp(LOGIT) + len(VOCAB) - 1), 3)
    assert result.alternatives == () and result.seconds > 0


def test_silence_gives_nothing(model):
    """Silence and an empty utterance give empty text with confidence 0."""
    recognizer = ReazonSpeechRecognizer(model, threads=1)
    for samples in (np.zeros(16000, np.int16), np.zeros(0, np.int16)):
        result = recognizer.transcribe(samples)
        assert (result.text, result.confidence) == ("", 0.0), result


def test_int8_is_preferred_over_fp32_as_a_whole_set(tmp_path):
    """All three .int8.onnx files win over the fp32 ones; an incomplete int8 set is never mixed in."""
    folder = make_model(tmp_path / "k2", text=OTHER)
    make_model(folder, suffix=".int8.onnx")
    files = reazonspeech.find_files(folder)
    assert [files[p].name for p in reazonspeech.PARTS] == [model_name(p, ".int8.onnx") for p in reazonspeech.PARTS]
    assert ReazonSpeechRecognizer(folder, threads=1).transcribe(speech(1)).text == SAID

    (folder / model_name("joiner", ".int8.onnx")).unlink()
    make_model(folder, text=OTHER)
    assert {f.name for f in reazonspeech.find_files(folder).values()} == {
        "tokens.txt", *(model_name(p, ".onnx") for p in reazonspeech.PARTS)}
    assert ReazonSpeechRecognizer(folder, threads=1).transcribe(speech(1)).text == OTHER


def test_missing_or_broken_files_are_named(tmp_path, model):
    """A missing file is named with what to do; a file sherpa-onnx cannot load is a ModelProblem too."""
    folder = tmp_path / "k2"
    problems = reazonspeech.check(folder)
    assert len(problems) == 1 and "does not exist" in problems[0] and "madoguchi models import DIR" in problems[0]

    make_model(folder)
    (folder / model_name("joiner", ".onnx")).unlink()
    problems = reazonspeech.check(folder)
    assert problems == [f"{folder / 'joiner-epoch-99-avg-1.onnx'} is missing ({reazonspeech.HINT})"]
    with pytest.raises(ModelProblem, match=r"joiner-epoch-99-avg-1\.onnx is missing.*models import DIR"):
        ReazonSpeechRecognizer(folder)

    (folder / model_name("encoder", ".int8.onnx")).write_bytes(b"")  # an int8 set was begun: name its gaps
    assert [p.split(" is ")[0].rsplit("/", 1)[1] for p in reazonspeech.check(folder)] == [
        "encoder-epoch-99-avg-1.int8.onnx", "decoder-epoch-99-avg-1.int8.onnx", "joiner-epoch-99-avg-1.int8.onnx"]
    assert "is empty" in reazonspeech.check(folder)[0]

    broken = tmp_path / "broken"
    make_model(broken)
    (broken / model_name("encoder", ".onnx")).write_bytes(b"not a model")
    with pytest.raises(ModelProblem, match="sherpa-onnx cannot use the model.*Protobuf parsing failed"):
        ReazonSpeechRecognizer(broken)


def test_audio_is_padded_with_silence_at_both_ends(model):
    """Each utterance reaches sherpa-onnx as float samples with 0.9 s of silence before and after."""
    recognizer = ReazonSpeechRecognizer(model, threads=1)
    recognizer.recognizer = spy = Spy(recognizer.recognizer)
    samples = speech(2)
    assert recognizer.transcribe(samples).text == SAID
    (wave,) = spy.waves
    pad = int(0.9 * 16000)
    assert len(wave) == len(samples) + 2 * pad
    assert not wave[:pad].any() and not wave[-pad:].any()
    np.testing.assert_allclose(wave[pad:-pad], samples / 32768.0, rtol=1e-6)


def test_long_input_is_split_into_pieces_of_at_most_30_seconds(model):
    """65 s is decoded as 3 pieces, each at most 30 s with its padding, cut in a quiet moment, and
    the texts are joined."""
    recognizer = ReazonSpeechRecognizer(model, threads=1)
    recognizer.recognizer = spy = Spy(recognizer.recognizer)
    samples = speech(65)
    samples[26 * 16000:int(26.3 * 16000)] = 0  # a pause the first cut should find
    assert recognizer.transcribe(samples).text == SAID * 3
    assert len(spy.waves) == 3
    assert all(len(w) <= 30 * 16000 for w in spy.waves)
    pad = int(0.9 * 16000)
    assert 26 * 16000 <= len(spy.waves[0]) - 2 * pad <= int(26.3 * 16000)
    assert sum(len(w) - 2 * pad for w in spy.waves) == len(samples)


def test_import_from_the_unpacked_archive(tmp_path):
    """import_folder accepts the parent the published archive unpacks into, copies just the model
    files it will use, and leaves no temporary folder behind."""
    usb = tmp_path / "usb"
    archive = make_model(usb / "sherpa-onnx-zipformer-ja-reazonspeech-2024-08-01", suffix=".int8.onnx")
    make_model(archive)
    (archive / "test_wavs").mkdir()
    (archive / "README.md").write_text("readme")
    models = tmp_path / "data" / "models"
    folder = reazonspeech.import_folder(usb, models)
    assert folder == models / "reazonspeech-k2"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["tokens.txt", *(model_name(p, ".int8.onnx") for p in reazonspeech.PARTS)])
    assert [p.name for p in models.iterdir()] == ["reazonspeech-k2"]
    assert ReazonSpeechRecognizer(folder, threads=1).transcribe(speech(1)).text == SAID


def test_failed_import_keeps_the_old_install(tmp_path):
    """A source with a missing file, or one sherpa-onnx refuses (it would end the process, so it is
    tried in a child), raises ModelProblem and leaves the working install as it was; a good one replaces it."""
    models = tmp_path / "models"
    reazonspeech.import_folder(make_model(tmp_path / "first"), models)
    folder = models / reazonspeech.FOLDER_NAME

    incomplete = make_model(tmp_path / "incomplete", text=OTHER)
    (incomplete / model_name("decoder", ".onnx")).unlink()
    with pytest.raises(ModelProblem, match=r"decoder-epoch-99-avg-1\.onnx is missing"):
        reazonspeech.import_folder(incomplete, models)

    refused = make_model(tmp_path / "refused", text=OTHER, decoder_metadata=False)
    with pytest.raises(ModelProblem, match="'vocab_size' does not exist in the metadata"):
        reazonspeech.import_folder(refused, models)

    assert [p.name for p in models.iterdir()] == [reazonspeech.FOLDER_NAME]
    assert ReazonSpeechRecognizer(folder, threads=1).transcribe(speech(1)).text == SAID

    reazonspeech.import_folder(make_model(tmp_path / "second", text=OTHER), models)
    assert ReazonSpeechRecognizer(folder, threads=1).transcribe(speech(1)).text == OTHER
    assert [p.name for p in models.iterdir()] == [reazonspeech.FOLDER_NAME]


def test_import_refuses_an_ambiguous_or_empty_source(tmp_path):
    """A folder with no model, or with two, is refused with a message saying which."""
    with pytest.raises(ModelProblem, match="no ReazonSpeech k2 model in"):
        reazonspeech.import_folder(tmp_path, tmp_path / "models")
    make_model(tmp_path / "a")
    make_model(tmp_path / "b")
    with pytest.raises(ModelProblem, match=r"holds 2 model folders \(a, b\): name one"):
        reazonspeech.import_folder(tmp_path, tmp_path / "models")


@pytest.mark.skipif(importlib.util.find_spec("espnet2") is not None, reason="ESPnet is installed")
def test_espnet_engine_says_how_to_install_it(tmp_path):
    """Without ESPnet the optional engine names the extra to install instead of failing on an import."""
    with pytest.raises(ModelProblem, match=r"pip install 'madoguchi\[espnet\]'"):
        espnet.EspnetRecognizer(tmp_path)


def test_espnet_layout_is_checked(tmp_path):
    """The reazonspeech-espnet-v2 layout (exp/asr_train_*/config.yaml, the .pth beside it, the stats
    file the config names relative to the model folder) and a flat config.yaml + model.pth are accepted."""
    folder = tmp_path / espnet.FOLDER_NAME
    assert "does not exist" in espnet.check(folder)[0]
    (folder / "exp" / "lm_train_lm_jp_char").mkdir(parents=True)  # a language model alone is not an ASR model
    (folder / "exp" / "lm_train_lm_jp_char" / "config.yaml").write_text("lm: transformer\n")
    (folder / "exp" / "lm_train_lm_jp_char" / "valid.loss.ave_10best.pth").write_bytes(b"lm")
    assert "no ESPnet model in" in espnet.check(folder)[0]

    run = folder / "exp" / "asr_train_asr_conformer_raw_jp_char"
    run.mkdir()
    (run / "config.yaml").write_text(
        "frontend: default\nnormalize: global_mvn\nnormalize_conf:\n"
        "    stats_file: exp/asr_stats_raw_jp_char/train/feats_stats.npz\n")
    (run / "valid.acc.ave_10best.pth").write_bytes(b"weights")
    (run / "checkpoint.pth").write_bytes(b"other")
    assert espnet.find_files(folder) == (run / "config.yaml", run / "valid.acc.ave_10best.pth")
    assert "feats_stats.npz" in espnet.check(folder)[0] and "is missing" in espnet.check(folder)[0]
    (folder / "exp" / "asr_stats_raw_jp_char" / "train").mkdir(parents=True)
    (folder / "exp" / "asr_stats_raw_jp_char" / "train" / "feats_stats.npz").write_bytes(b"stats")
    assert espnet.check(folder) == []

    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "config.yaml").write_text("normalize: utterance_mvn\n")
    (flat / "model.pth").write_bytes(b"weights")
    assert espnet.check(flat) == [] and espnet.find_files(flat) == (flat / "config.yaml", flat / "model.pth")


def test_cli_imports_checks_and_uses_the_model(tmp_path):
    """`madoguchi models import` installs the folder, `models check` marks reazonspeech as the active
    engine once asr_engine names it, and `asr transcribe` then recognises with it; a bad source is refused
    with the reason and exit status 1."""
    root = tmp_path / "box"
    config = root / "madoguchi.toml"
    root.mkdir()
    config.write_text(f'data_dir = "{root / "data"}"\nkey_dir = "{root / "keys"}"\nasr_engine = "reazonspeech"\n',
                      encoding="utf-8")
    env = {**os.environ, "MADOGUCHI_CONFIG": str(config)}
    run = lambda *args: subprocess.run([sys.executable, "-m", "appliance", *args], env=env,  # noqa: E731
                                       capture_output=True, text=True, cwd=Path(__file__).parents[2], timeout=300)
    missing = run("models", "check")
    assert missing.returncode == 1 and "FAIL reazonspeech (active)" in missing.stdout

    (tmp_path / "empty").mkdir()
    refused = run("models", "import", str(tmp_path / "empty"))
    assert refused.returncode == 1 and "no ReazonSpeech k2 model in" in refused.stderr

    imported = run("models", "import", str(make_model(tmp_path / "usb" / "model")))
    assert imported.returncode == 0, imported.stderr
    checked = run("models", "check")
    assert checked.returncode == 0 and "ok   reazonspeech (active)" in checked.stdout, checked.stdout

    wav = tmp_path / "caller.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(speech(1.5).tobytes())
    out = run("asr", "transcribe", str(wav))
    assert out.returncode == 0 and f"\t{SAID}\t" in out.stdout, out.stderr
