"""iter_paragraphs (a run of lines at a time) gives exactly what the per-line loop gives, batch for batch,
on real LineScanner batches: blank and whitespace-only lines, every break, lines and paragraphs over
the limit, paragraphs across chunks, and every stop / min_start / previous_blank."""
import random

from lmpairs.reading.lines import LineScanner
from lmpairs.reading.paragraphs import _by_line, _paragraphs, iter_paragraphs

ATOMS = [b"a", b"word", b"two words", b"\xc3\xa9\xff", b" ", b"\t", b"\f", b"\v", b"  \t", b" x ",
         b"\n", b"\r\n", b"\r", b"ab\ncd\n", b"e\r\nf\rg", b"\n\n", b"\r\n\r\n", b" \t\f\v\n", b"\r \n"]


def _case(rng: random.Random) -> tuple[bytes, dict]:
    parts = [rng.choice(ATOMS) for _ in range(rng.randint(0, 120))]
    for _ in range(rng.choice([0, 0, 1, 2])):  # a line or a blank line longer than most limits
        parts.insert(rng.randint(0, len(parts)), rng.choice([b"y", b" "]) * rng.randint(10, 80))
    data, offset = b"".join(parts), rng.randint(0, 9)
    options = {"limit": rng.choice([rng.randint(2, 40), 1000]), "offset": offset,
               "stop": rng.choice([None, _position(data, offset, rng)]), "keep_first": rng.random() < 0.3,
               "previous_blank": rng.random() < 0.5, "min_start": rng.choice([0, _position(data, offset, rng)])}
    return data, options


def _position(data: bytes, offset: int, rng: random.Random) -> int:
    """Often a line's first byte, where an off-by-one in ``stop`` or ``min_start`` shows."""
    heads = [i + 1 for i, byte in enumerate(data) if byte in b"\r\n"]
    if heads and rng.random() < 0.7:
        return offset + rng.choice(heads)
    return offset + rng.randint(0, len(data) + 1)


def _chunks(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 12)))) if data else []
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]


def _read(paragraphs, data_chunks: list[bytes], options: dict) -> tuple[list, int, bool]:
    scanner = LineScanner(iter(data_chunks), offset=options["offset"], limit=options["limit"],
                          stop=options["stop"], keep_first=options["keep_first"])
    blocks = list(paragraphs(scanner, iter(scanner), limit=options["limit"], stop=options["stop"],
                             previous_blank=options["previous_blank"], min_start=options["min_start"]))
    return blocks, scanner.position, scanner.stopped


def _per_line(scanner, batches, **options):
    return _paragraphs(scanner, batches, _by_line, **options)


def test_paragraphs_by_runs_equal_the_per_line_loop_on_random_batches():
    rng = random.Random(20240611)
    seen = {"none": 0, "text": 0, "stopped": 0, "multi_chunk": 0}
    for case in range(300):
        data, options = _case(rng)
        data_chunks = _chunks(data, rng)
        got = _read(iter_paragraphs, data_chunks, options)
        want = _read(_per_line, data_chunks, options)
        assert got == want, (case, data, data_chunks, options)
        raws = [raw for blocks in want[0] for raw in blocks.raws]
        seen["none"] += raws.count(None)
        seen["text"] += len(raws) - raws.count(None)
        seen["stopped"] += want[2]
        seen["multi_chunk"] += len(data_chunks) > 1 and len(raws) > 0
    assert min(seen.values()) >= 20, seen  # every kind of case came up
