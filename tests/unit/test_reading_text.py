"""read_split on text and JSONL: paragraphs, lines, whole files; every record read exactly once
whichever byte ranges the file is cut into; BOM/CRLF; limits; bounded memory."""
import random
import re

import pytest

import lmpairs.reading.decompress as decompress
from lmpairs.reading import UnreadableInput, plan_splits, read_split
from lmpairs.reading.records import check_raw

BOM = b"\xef\xbb\xbf"
ATOMS = [b"a", b"bc", b" ", b"\t", b"\n", b"\r\n", b"\r", b"  \n", b"\xc3\xa9", b"word ", b"\xff", b"\n\n"]
_BREAK = re.compile(rb"\r\n|\r|\n")


def read_all(path, *, split_bytes=1 << 30, documents="paragraph", **options):
    plan = plan_splits([str(path)], split_bytes=split_bytes, documents=documents)
    return [tuple(r) for s in plan.splits for r in read_split(s, documents=documents, **options)]


def reference(data: bytes, documents: str, limit: int) -> list[tuple]:
    """The records by the definition, from the whole file at once."""
    offset = len(BOM) if data.startswith(BOM) else 0
    lines, pos = [], offset
    for m in _BREAK.finditer(data, offset):
        lines.append((pos, m.start()))
        pos = m.end()
    if pos < len(data):
        lines.append((pos, len(data)))
    if documents == "line":
        blocks = [(s, data[s:e], e - s) for s, e in lines]
    else:
        blocks, run = [], []
        for s, e in [*lines, (None, None)]:
            if s is None or not data[s:e].strip(b" \t\f\v"):
                if run:
                    blocks.append((run[0][0], b"\n".join(data[a:b] for a, b in run), run[-1][1] - run[0][0]))
                run = []
            else:
                run.append((s, e))
    return [(f"f.txt:{s}", *check_raw(raw, size, max_document_bytes=limit)) for s, raw, size in blocks]


@pytest.mark.parametrize("documents", ["paragraph", "line"])
def test_every_record_is_read_exactly_once_over_any_byte_ranges_and_chunk_sizes(tmp_path, monkeypatch, documents):
    rng = random.Random(documents)
    path = tmp_path / "f.txt"
    for _ in range(80):
        data = (BOM if rng.random() < 0.3 else b"") + b"".join(rng.choice(ATOMS) for _ in range(rng.randint(0, 50)))
        path.write_bytes(data)
        limit = rng.choice([3, 6, 1000])
        monkeypatch.setattr(decompress, "READ_BYTES", rng.choice([1, 2, 3, 7, 1 << 20]))
        expected = reference(data, documents, limit)
        for split_bytes in (1, 2, 3, 4, 5, 8, 13, 1 << 20):
            got = read_all(path, split_bytes=split_bytes, documents=documents, max_document_bytes=limit)
            assert got == expected, (data, split_bytes)


def test_a_record_straddling_many_split_boundaries_is_read_once_by_the_split_where_it_starts(tmp_path):
    long = b"x" * 1000
    path = tmp_path / "f.txt"
    path.write_bytes(b"first\n\n" + long + b"\nstill the same paragraph\n\nlast\n")
    plan = plan_splits([str(path)], split_bytes=100)
    per_split = [[r.key for r in read_split(s)] for s in plan.splits]
    assert per_split[0] == ["f.txt:0", "f.txt:7"] and per_split[-1] == ["f.txt:1034"]
    assert all(keys == [] for keys in per_split[1:-1])
    assert [r.text for s in plan.splits for r in read_split(s)][1] == "x" * 1000 + "\nstill the same paragraph"


def test_paragraphs_are_blank_line_separated_and_keyed_by_their_first_byte(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(BOM + b"One wrapped\r\nparagraph.\r\n\r\n  \t\r\nTwo.\rStill two.\n\n\n\nThree.")
    assert read_all(path) == [("f.txt:3", "One wrapped\nparagraph.", None), ("f.txt:35", "Two.\nStill two.", None),
                              ("f.txt:54", "Three.", None)]


def test_lines_keep_blank_lines_as_empty_rejections(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"\xef\xbb\xbfa line\r\n\r\n  \nlast")
    assert read_all(path, documents="line") == [("f.txt:3", "a line", None), ("f.txt:11", None, "empty"),
                                                ("f.txt:13", None, "empty"), ("f.txt:16", "last", None)]


def test_whole_file_documents_normalize_crlf_and_drop_the_bom(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(BOM + b"a\r\nb\rc\n\nd\n")
    assert read_all(path, documents="file") == [("f.txt:3", "a\nb\nc\n\nd\n", None)]
    assert read_all(path, documents="file", split_bytes=2) == [("f.txt:3", "a\nb\nc\n\nd\n", None)]


@pytest.mark.parametrize("documents", ["paragraph", "line", "file"])
def test_empty_and_bom_only_files_hold_zero_documents(tmp_path, documents):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "bom.txt").write_bytes(BOM)
    assert read_all(tmp_path / "empty.txt", documents=documents) == []
    assert read_all(tmp_path / "bom.txt", documents=documents) == []


def test_record_level_problems_are_named_reasons(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"ok\n\nbad \xff byte\n\nnul\x00\n\n" + b"y" * 50 + b"\n\n" + "\u3000".encode() + b"\n")
    assert [r[1:] for r in read_all(path, max_document_bytes=20)] == [
        ("ok", None), (None, "invalid_utf8"), (None, "nul_bytes"), (None, "too_long"), (None, "empty")]


def test_a_paragraph_over_the_limit_is_too_long_even_when_each_line_fits(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"12345\n12345\n12345\n\nshort\n")
    assert [r[1:] for r in read_all(path, max_document_bytes=12)] == [(None, "too_long"), ("short", None)]


def test_a_file_that_shrank_after_planning_is_unreadable(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"line one\n" * 10)
    splits = plan_splits([str(path)], split_bytes=30).splits
    path.write_bytes(b"line one\n" * 2)
    with pytest.raises(UnreadableInput, match="f.txt: ended at byte 18, but it had 90 bytes") as caught:
        list(read_split(splits[0]))
    assert caught.value.path == str(path) and "do not change inputs" in caught.value.detail


def test_jsonl_records_are_keyed_by_line_offset_and_every_bad_line_has_a_reason(tmp_path):
    lines = [b'{"text": "good \\u00e9"}', b"", b"{not json", b'{"title": "no text"}', b'{"text": 7}', b"[1, 2]",
             b'{"text": "lone \\ud800 surrogate"}', b'{"text": "nul \\u0000 inside"}', b'{"text": "  "}',
             b'{"text": "bad \xff"}', b"[" * 200_000 + b"]" * 200_000, b"{" + b'"a":{' * 100_000 + b"}" * 100_001,
             b'{"text": "crlf\\r\\nin text"}']
    path = tmp_path / "f.jsonl"
    path.write_bytes(BOM + b"\r\n".join(lines) + b"\r\n")
    got = read_all(path)
    assert [r[1:] for r in got] == [
        ("good \u00e9", None), (None, "empty"), (None, "invalid_json"), (None, "missing_field"),
        (None, "missing_field"), (None, "missing_field"), (None, "invalid_unicode"), (None, "nul_bytes"),
        (None, "empty"), (None, "invalid_utf8"), (None, "invalid_json"), (None, "invalid_json"),
        ("crlf\nin text", None)]
    assert got[0][0] == "f.jsonl:3" and got[1][0] == f"f.jsonl:{3 + len(lines[0]) + 2}"
    assert [r for s in plan_splits([str(path)], split_bytes=50_000).splits for r in read_split(s)] == got


def test_jsonl_text_limit_applies_to_the_text_not_the_line(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"text": "\\u00e9\\u00e9", "meta": "' + b"m" * 40 + b'"}\n{"text": "' + b"z" * 30 + b'"}\n')
    assert [r[1:] for r in read_all(path, max_document_bytes=20)] == [("\u00e9\u00e9", None), (None, "too_long")]
    path.write_bytes(b'{"text": "kept", "meta": "' + b"m" * 70_000 + b'"}\n{"text": "next"}\n')
    assert [r[1:] for r in read_all(path, max_document_bytes=1000)] == [("kept", None), ("next", None)]
    assert [r[1:] for r in read_all(path, max_document_bytes=1)] == [(None, "too_long"), (None, "too_long")]
    path.write_bytes(b'{"text": "x", "meta": "' + b"m" * 200_000 + b'"}\n{"text": "next"}\n')
    assert [r[1:] for r in read_all(path, max_document_bytes=10)] == [(None, "too_long"), ("next", None)]


def test_a_50_mb_single_line_document_is_one_record_or_rejected_without_holding_it(tmp_path):
    path = tmp_path / "huge.txt"
    path.write_bytes(b"lorem ipsum " * (50 * 2**20 // 12 + 1) + b"\nafter it\n")
    size = path.stat().st_size - len(b"\nafter it\n")
    assert read_all(path, documents="line", max_document_bytes=16 * 2**20) == [
        ("huge.txt:0", None, "too_long"), (f"huge.txt:{size + 1}", "after it", None)]
    [(key, text, reason), after] = read_all(path, documents="line", max_document_bytes=64 * 2**20,
                                            split_bytes=8 * 2**20)
    assert key == "huge.txt:0" and reason is None and len(text) == size and after[1] == "after it"
