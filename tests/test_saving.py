"""Saving never loses a model (atomic, symlinks kept, no temporary file left), chooses its file as SB3 does,
and reading something that is not a saved model is a clear ValueError."""

import io
import os
import zipfile

import pytest

from reinforce_sb3 import REINFORCE
from reinforce_sb3.saving import atomic_save, read_model_data, save_target


@pytest.fixture
def model(make_model):
    return make_model()


def files(folder):
    """Every entry of ``folder``, hidden ones included, by name."""
    return sorted(os.listdir(folder))


def test_save_target_is_chosen_as_sb3_s_open_path_does(tmp_path):
    assert save_target(tmp_path / "model") == tmp_path / "model.zip"  # .zip added to a path without a suffix
    assert save_target(tmp_path / "model.v1") == tmp_path / "model.v1"
    (tmp_path / "x.zip").mkdir()
    (tmp_path / "x.zip_2").mkdir()
    with pytest.warns(UserWarning, match="is a folder"):
        assert save_target(tmp_path / "x.zip") == tmp_path / "x.zip_2_2"
    with pytest.warns(UserWarning, match="does not exist. Will create it"):
        assert save_target(tmp_path / "new" / "deeper" / "m.zip") == tmp_path / "new" / "deeper" / "m.zip"
    assert (tmp_path / "new" / "deeper").is_dir()


def test_saving_through_a_dangling_symlink_creates_its_target(tmp_path, model):
    link = tmp_path / "latest.zip"
    link.symlink_to(tmp_path / "models" / "v2.zip")  # neither the file nor its folder exists yet
    with pytest.warns(UserWarning, match="does not exist. Will create it"):
        model.save(link)
    assert link.is_symlink() and (tmp_path / "models" / "v2.zip").is_file()
    REINFORCE.load(link)


class Interrupted(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("error", [OSError("disk full"), Interrupted()], ids=["error", "KeyboardInterrupt"])
def test_a_failed_or_interrupted_save_leaves_the_old_model_and_no_temporary_file(tmp_path, model, monkeypatch, error):
    """The file is written to a temporary file first: a crash mid-write leaves the previous model as it was."""
    path = tmp_path / "model.zip"
    model.save(path)
    saved = path.read_bytes()

    def crash(save_path, *args, **kwargs):
        with open(save_path, "wb") as file:
            file.write(b"half a model")
        raise error

    monkeypatch.setattr("stable_baselines3.common.base_class.save_to_zip_file", crash)
    with pytest.raises(type(error)):
        model.save(path)
    assert path.read_bytes() == saved
    assert files(tmp_path) == ["model.zip"]  # no hidden temporary file left behind
    monkeypatch.undo()
    REINFORCE.load(path)


def test_atomic_save_replaces_the_file_in_one_step(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("old")
    seen = []

    def write(temporary):
        seen.append(temporary)
        assert path.read_text() == "old"  # the target is untouched while the new file is written
        temporary.write_text("new")

    assert atomic_save(write, path) == path
    assert path.read_text() == "new" and files(tmp_path) == ["notes.txt"]
    assert seen[0].parent == tmp_path and seen[0].name.startswith(".notes.txt.")  # same folder: os.replace is atomic


def test_reading_something_that_is_not_a_saved_model(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    with pytest.raises(ValueError, match=r"is not a readable saved model .*wasn't a zip-file"):
        read_model_data(text, None)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="is not a saved Stable-Baselines3 model"):
        REINFORCE.load(empty)
    with pytest.raises(FileNotFoundError):
        REINFORCE.load(tmp_path / "missing.zip")


@pytest.mark.parametrize("member", ["policy.pth", "policy.optimizer.pth"])
@pytest.mark.parametrize(
    "corrupt",
    [
        lambda data: b"",
        lambda data: data[: len(data) // 2],
        lambda data: b"hello world",
        lambda data: bytes(100),
        pytest.param(
            lambda data: b"\x80garbage" * 10,
            marks=[pytest.mark.filterwarnings("ignore:Detected pickle protocol")],
        ),
    ],
    ids=["empty", "truncated", "text", "zeros", "pickle-like"],
)
def test_a_corrupt_parameter_file_in_the_zip_is_a_value_error(tmp_path, model, member, corrupt):
    """Not torch's UnpicklingError (or any other error from deep inside torch.load)."""
    model.save(tmp_path / "model.zip")
    with zipfile.ZipFile(tmp_path / "model.zip") as original, zipfile.ZipFile(tmp_path / "bad.zip", "w") as bad:
        for item in original.namelist():
            bad.writestr(item, corrupt(original.read(item)) if item == member else original.read(item))
    with pytest.raises(ValueError, match=r"bad.zip' is not a readable saved model"):
        REINFORCE.load(tmp_path / "bad.zip")


def test_reading_a_file_object_leaves_it_at_the_start(model):
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    assert read_model_data(buffer, None)["n_episodes"] == model.n_episodes
    assert buffer.tell() == 0  # so that SB3's load can read it again
    buffer.seek(0)
    REINFORCE.load(buffer)
