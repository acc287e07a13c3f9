"""Loading MusicGen through the real `from_pretrained` path: tiny models saved to disk and read back."""

from __future__ import annotations

import json
import shutil

import httpx
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    MusicgenForConditionalGeneration,
    PreTrainedTokenizerFast,
    T5Config,
)

from musicrfm.models import hub
from musicrfm.models.backend import (
    MusicGen,
    load_musicgen,
    resolve_device,
    resolve_dtype,
)
from musicrfm.models.random_weights import (
    tiny_musicgen,
    tiny_musicgen_config,
    tiny_musicgen_melody,
)
from musicrfm.models.text import HashingTokenizer, PretrainedTokenizer


@pytest.fixture(scope="module")
def tiny_model():
    return tiny_musicgen(seed=3)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory, tiny_model):
    folder = tmp_path_factory.mktemp("tiny")
    tiny_model.save_pretrained(folder)
    return folder


def _word_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, "piano": 3, "drums": 4, "calm": 5}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def test_round_trip_through_loader_keeps_weights_and_architecture(tiny_folder, tiny_model):
    mg = load_musicgen(tiny_folder, device="cpu")
    reference = tiny_model.state_dict()
    loaded = mg.model.state_dict()
    assert loaded.keys() == reference.keys()
    assert all(torch.equal(loaded[k], reference[k]) for k in reference)
    assert isinstance(mg.model, MusicgenForConditionalGeneration) and not mg.model.training
    assert (mg.device, mg.dtype, mg.name) == (torch.device("cpu"), torch.float32, str(tiny_folder))
    assert mg.fingerprint == {"model_type": "musicgen", "num_layers": 2, "hidden_size": 32, "num_codebooks": 4,
                              "codebook_size": 64, "audio_channels": 1, "sample_rate": 32000, "frame_rate": 50}
    assert mg.layers is mg.model.decoder.model.decoder.layers
    assert isinstance(mg.tokenizer, HashingTokenizer)


def test_dtype_override(tiny_folder):
    mg = load_musicgen(tiny_folder, device="cpu", dtype="bfloat16")
    assert mg.dtype == torch.bfloat16
    assert {p.dtype for p in mg.model.decoder.parameters()} == {torch.bfloat16}


def test_device_and_dtype_resolution(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda:0")
    with pytest.raises(ValueError, match="not a valid torch device"):
        resolve_device("gpu7")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_dtype("auto", torch.device("cuda")) == torch.float16
    assert resolve_dtype("auto", torch.device("mps")) == torch.float32
    assert resolve_dtype(torch.bfloat16, torch.device("cpu")) == torch.bfloat16
    with pytest.raises(ValueError, match="dtype must be"):
        resolve_dtype("float64", torch.device("cpu"))


def test_folder_tokenizer_is_used_when_present(tmp_path, tiny_folder):
    shutil.copytree(tiny_folder, tmp_path, dirs_exist_ok=True)
    _word_tokenizer().save_pretrained(tmp_path)
    mg = load_musicgen(tmp_path, device="cpu")
    assert isinstance(mg.tokenizer, PretrainedTokenizer)
    batch = mg.tokenize(["calm piano", "drums"])
    assert batch["input_ids"].tolist() == [[5, 3], [4, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1], [1, 0]]


def test_tokenizer_modes(tiny_folder, tmp_path):
    with pytest.raises(ValueError, match="no usable T5 tokenizer"):
        load_musicgen(tiny_folder, device="cpu", tokenizer="pretrained")
    with pytest.raises(ValueError, match="tokenizer must be one of"):
        load_musicgen(tiny_folder, device="cpu", tokenizer="t5")
    # A real-size vocabulary without tokenizer files must not fall back to hashed words; the check runs
    # before any weights are read, so a config alone shows it.
    config = tiny_musicgen_config()
    config.text_encoder.vocab_size = 2000
    config.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="no usable T5 tokenizer"):
        load_musicgen(tmp_path, device="cpu")


def test_melody_variant_loads(tmp_path):
    tiny_musicgen_melody(seed=1).save_pretrained(tmp_path)
    mg = load_musicgen(tmp_path, device="cpu")
    assert mg.is_melody and mg.fingerprint["model_type"] == "musicgen_melody"
    assert len(mg.layers) == mg.num_layers == 2


def test_missing_and_wrong_sources(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_musicgen(tmp_path / "nope")
    with pytest.raises(ValueError, match="does not exist"):
        load_musicgen("./models/musicgen-small")
    with pytest.raises(ValueError, match="has no config.json"):
        load_musicgen(tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="is a file"):
        load_musicgen(tmp_path / "weights.bin")
    T5Config(vocab_size=10, d_model=8, num_layers=1, num_heads=1, d_kv=8, d_ff=8).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="holds a 't5' model, not MusicGen"):
        load_musicgen(tmp_path)
    with pytest.raises(TypeError, match="name_or_path"):
        load_musicgen(42)


def test_hub_id_offline_gives_one_clear_line():
    with pytest.raises(OSError) as info:
        load_musicgen("facebook/musicgen-small", device="cpu", local_files_only=True)
    assert str(info.value) == "model 'facebook/musicgen-small' is not available offline; pass a local folder"


@pytest.mark.parametrize("cached", [False, True])
def test_an_unreachable_hub_fails_at_once_or_falls_back_to_the_cache(monkeypatch, cached):
    """No network here: the Hub's metadata request is replaced by one that fails as a dead network does."""
    calls = []

    def unreachable(self, repo_id, timeout=None):
        calls.append((repo_id, timeout))
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(hub.HfApi, "model_info", unreachable)
    monkeypatch.setattr(hub, "try_to_load_from_cache", lambda repo, name: "/cache/config.json" if cached else None)
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", False)
    if cached:
        assert hub.cache_only("facebook/musicgen-small", local_files_only=False) is True
    else:
        with pytest.raises(OSError, match="not in the local cache and the Hugging Face Hub cannot be reached"):
            load_musicgen("facebook/musicgen-small", device="cpu")
    assert calls == [("facebook/musicgen-small", hub.PROBE_TIMEOUT_S)]


def test_offline_mode_asks_nothing_of_the_hub(monkeypatch):
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub.HfApi, "model_info", lambda *a, **k: pytest.fail("the Hub was asked"))
    with pytest.raises(OSError, match="is not available offline"):
        load_musicgen("facebook/musicgen-small", device="cpu")


def test_incomplete_folder_is_reported(tmp_path, tiny_folder):
    (tmp_path / "config.json").write_text((tiny_folder / "config.json").read_text())
    with pytest.raises(ValueError, match="is incomplete"):
        load_musicgen(tmp_path, device="cpu")


def test_fingerprint_check_names_the_difference(tiny_model):
    mg = MusicGen.from_model(tiny_model)
    mg.check_fingerprint(dict(mg.fingerprint))
    other = dict(mg.fingerprint, hidden_size=1024)
    with pytest.raises(ValueError, match="probe was made for another model: hidden_size 1024 != 32"):
        mg.check_fingerprint(other)
    assert json.loads(json.dumps(mg.fingerprint)) == mg.fingerprint


def test_backend_validates_its_fields(tiny_model):
    with pytest.raises(TypeError, match="model must be a MusicGen model"):
        MusicGen(model=torch.nn.Linear(2, 2), tokenizer=len, device=torch.device("cpu"), dtype=torch.float32)
    with pytest.raises(TypeError, match="tokenizer must be callable"):
        MusicGen(model=tiny_model, tokenizer=3, device=torch.device("cpu"), dtype=torch.float32)


def test_hashing_tokenizer_is_deterministic_and_validated():
    tok = HashingTokenizer(vocab_size=100)
    first, again = tok(["Calm piano, soft drums"]), tok(["calm piano soft drums"])
    assert torch.equal(first["input_ids"], again["input_ids"])
    ids = first["input_ids"][0].tolist()
    assert ids[-1] == 1 and all(3 <= i < 100 for i in ids[:-1]) and len(ids) == 5
    assert not torch.equal(tok(["rock"])["input_ids"], tok(["jazz"])["input_ids"])
    with pytest.raises(TypeError, match="texts must be a list of strings"):
        tok("piano")
    with pytest.raises(TypeError, match=r"texts\[1\] must be a string"):
        tok(["piano", 3])
    with pytest.raises(ValueError, match="vocab_size"):
        HashingTokenizer(vocab_size=2)


def test_paths_that_cannot_be_hub_ids_are_missing_folders():
    for text in ("a/b/c", "models\\small", "~/musicgen"):
        with pytest.raises(ValueError, match="does not exist"):
            load_musicgen(text, local_files_only=True)
