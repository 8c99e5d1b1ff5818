"""check_json_lines (a batch at a time) gives exactly what json.loads line by line gives."""
import json
import random

import pytest

from lmpairs.reading.jsonl import check_json_lines
from lmpairs.reading.records import check_json_line

ATOMS = [b"{", b"}", b"[", b"]", b'"text"', b'"other"', b":", b",", b" ", b"\t", b'"abc"', b'"\\u00e9x"', b"1",
         b"2.5e3", b"null", b"true", b'"\\ud800"', b"\xc3\xa9", b"\x00", b"\xef\xbb\xbf", b"\xff", b'"a\\"b"',
         b'{"text": "kept"}', b'{"text": "x"},{"text": "y"}', b'{"a": "}', b'{", "text": "z"}', b"\x0b"]


def random_line(rng: random.Random) -> bytes:
    """Garbage from JSON-ish atoms, or a real record whose text holds awkward characters."""
    if rng.random() < 0.6:
        return b"".join(rng.choice(ATOMS) for _ in range(rng.randint(0, 8)))
    text = "".join(rng.choice("ab \u00e9\ud800\x00\r\n\t\u3000") for _ in range(rng.randint(0, 6)))
    record = json.dumps({"text": text, "n": [1, {"x": None}]}, ensure_ascii=rng.random() < 0.5)
    return record.encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("seed", range(4))
def test_a_batch_is_checked_exactly_like_line_by_line(seed):
    rng = random.Random(seed)
    for _ in range(300):
        raws = [random_line(rng) for _ in range(rng.randint(1, 12))]
        if rng.random() < 0.2:
            raws[rng.randrange(len(raws))] = None
        limit = rng.choice([1, 4, 1000])
        expected = [check_json_line(raw, text_field="text", max_document_bytes=limit) for raw in raws]
        texts, reasons = check_json_lines(raws, text_field="text", max_document_bytes=limit)
        assert list(zip(texts, reasons)) == expected, raws


def test_lines_that_would_parse_across_line_boundaries_stay_invalid():
    raws = [b'{"a": "}', b'{", "text": "z"}', b'{"text": "x"},{"text": "y"}', b"[", b"1]", b' {"text": "ok"} ']
    texts, reasons = check_json_lines(raws, text_field="text", max_document_bytes=100)
    assert reasons == ["invalid_json"] * 5 + [None] and texts[-1] == "ok"
