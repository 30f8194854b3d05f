"""The name rules and search-path rules as pure functions, including Windows with the platform passed in."""
from __future__ import annotations

import ntpath
import os
from pathlib import Path

import pytest

from dispatch import resolve


@pytest.mark.parametrize("word", ["foo", "Foo9", "a.b", "a_b", "a-b", "9", "x..y"])
def test_valid_names(word: str) -> None:
    assert resolve.name_problem(word) is None


@pytest.mark.parametrize(
    ("word", "why"),
    [
        ("", "empty"),
        (".", "start with '.'"),
        ("..", "start with '.'"),
        (".hidden", "start with '.'"),
        ("-x", "start with '-'"),
        ("_x", "start with '_'"),
        ("sub/evil", "path separators"),
        ("sub\\evil", "path separators"),
        ("a\0b", "'\\x00'"),
        ("a b", "' '"),
        ("caf\u00e9", "'\u00e9'"),
    ],
)
def test_invalid_names(word: str, why: str) -> None:
    problem = resolve.name_problem(word)
    assert problem is not None and why in problem


@pytest.mark.parametrize(
    ("args", "n"),
    [([], 0), (["a"], 1), (["a", "b", "-x", "c"], 2), (["-x", "a"], 0), (["a", "--", "b"], 1)],
)
def test_command_words_end_at_first_dash(args: list[str], n: int) -> None:
    assert resolve.command_words(args) == n


def test_lookup_words_stop_at_first_invalid_word() -> None:
    assert resolve.lookup_words(["a", "b", "../c", "d"]) == ["a", "b"]
    assert resolve.lookup_words(["sub/evil"]) == []


def test_candidates_longest_first_with_underscore_variants() -> None:
    table = resolve.candidates("tool", ["a", "b-c", "d"])
    assert table == [
        (3, ["tool-a-b-c-d", "tool-a-b_c-d"]),
        (2, ["tool-a-b-c", "tool-a-b_c"]),
        (1, ["tool-a"]),
    ]


def test_candidates_skip_names_longer_than_a_file_name_can_be() -> None:
    words = ["w" * 10] * 100
    table = resolve.candidates("tool", words)
    assert table, "short prefixes are still tried"
    assert all(len(name) <= 255 for _, names in table for name in names)
    assert max(n for n, _ in table) == 22


def test_search_path_order_dedup_and_skips() -> None:
    env = {"TOOL_PLUGIN_PATH": "/p1:rel::/p2/", "PATH": "/p2:/usr/bin::bin:/p1"}
    sp = resolve.search_path(env, "TOOL_PLUGIN_PATH", pathsep=":", isabs=os.path.isabs)
    assert sp.dirs == ["/p1", "/p2", "/usr/bin"]
    reasons = [(var, entry, reason.split()[0]) for var, entry, reason in sp.skipped]
    assert reasons == [
        ("TOOL_PLUGIN_PATH", "rel", "relative"),
        ("TOOL_PLUGIN_PATH", "", "empty"),
        ("PATH", "/p2", "duplicate"),
        ("PATH", "", "empty"),
        ("PATH", "bin", "relative"),
        ("PATH", "/p1", "duplicate"),
    ]


def test_search_path_windows_separator_and_absolute_rule() -> None:
    env = {"PATH": r"C:\tools;relative;;D:\bin"}
    sp = resolve.search_path(env, "TOOL_PLUGIN_PATH", pathsep=";", isabs=ntpath.isabs)
    assert [d.replace("/", "\\") for d in sp.dirs] == [r"C:\tools", r"D:\bin"]
    assert [entry for _, entry, _ in sp.skipped] == ["relative", ""]


def test_pathext_names_on_windows() -> None:
    exts = resolve.pathext_list({"PATHEXT": ".COM;.EXE;.bat;;.EXE"})
    assert exts == [".com", ".exe", ".bat"]
    assert resolve.file_names("tool-foo", True, exts) == ["tool-foo.com", "tool-foo.exe", "tool-foo.bat"]
    # A name already carrying an executable extension is tried as it is first.
    assert resolve.file_names("tool-foo.exe", True, exts)[0] == "tool-foo.exe"
    assert resolve.file_names("tool-foo", False, exts) == ["tool-foo"]
    assert resolve.pathext_list({}) == [".com", ".exe", ".bat", ".cmd"]


def test_candidates_on_windows_try_every_extension() -> None:
    table = resolve.candidates("tool", ["foo-bar"], windows=True, pathext=[".exe", ".cmd"])
    assert table == [(1, ["tool-foo-bar.exe", "tool-foo-bar.cmd", "tool-foo_bar.exe", "tool-foo_bar.cmd"])]


def test_find_on_windows_needs_no_execute_bit(tmp_path: Path) -> None:
    (tmp_path / "tool-foo.cmd").write_text("@echo off\n")
    table = resolve.candidates("tool", ["foo"], windows=True, pathext=[".exe", ".cmd"])
    found = resolve.find([str(tmp_path)], table, windows=True)
    assert found is not None and found.path.endswith("tool-foo.cmd")
    assert resolve.find([str(tmp_path)], table, windows=False) is None


def test_is_executable_wants_a_regular_file_with_x(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("#!/bin/sh\n")
    f.chmod(0o644)
    assert not resolve.is_executable(str(f))
    f.chmod(0o755)
    assert resolve.is_executable(str(f))
    (tmp_path / "d").mkdir()
    assert not resolve.is_executable(str(tmp_path / "d"))
    (tmp_path / "link").symlink_to(f)
    assert resolve.is_executable(str(tmp_path / "link"))
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert not resolve.is_executable(str(tmp_path / "dangling"))


def test_near_misses_explain_each_kind(tmp_path: Path) -> None:
    (tmp_path / "tool-a").write_text("x")
    (tmp_path / "tool-b").mkdir()
    (tmp_path / "tool-c").symlink_to(tmp_path / "gone")
    table = resolve.candidates("tool", ["a"]) + resolve.candidates("tool", ["b"]) + resolve.candidates("tool", ["c"])
    misses = dict(resolve.near_misses([str(tmp_path)], table))
    assert "chmod +x" in misses[str(tmp_path / "tool-a")]
    assert "directory" in misses[str(tmp_path / "tool-b")]
    assert "does not exist" in misses[str(tmp_path / "tool-c")]
