"""ReadFileFn and TokenizeDocumentsFn called directly: outputs, rejections, counts, whole-file rejection."""
import gzip
import pickle

from apache_beam import pvalue

from lmpairs.pipeline.read import FILES_REJECTED, REJECTED, ReadFileFn
from lmpairs.pipeline.records import Document, InputFile, Rejection, TokenizedDocument
from lmpairs.pipeline.tokenize import TokenizeDocumentsFn

def run(fn, element, *extra):
    outputs = list(fn.process(element, *extra))
    main = [o for o in outputs if not isinstance(o, pvalue.TaggedOutput)]
    tagged = {}
    for o in outputs:
        if isinstance(o, pvalue.TaggedOutput):
            tagged.setdefault(o.tag, []).append(o.value)
    return main, tagged


def test_read_file_keys_documents_and_counts_rejections(tmp_path):
    path = tmp_path / "a.txt.gz"
    path.write_bytes(gzip.compress(b"one\r\n\r\ntwo \xff\nthree\n"))
    fn = ReadFileFn(documents="line", text_field="text", max_document_bytes=100)
    main, tagged = run(fn, InputFile(str(path), "sub/a.txt.gz", "text", "gzip", 10))
    assert main == [Document("sub/a.txt.gz:0", "one"), Document("sub/a.txt.gz:3", "three")]
    assert tagged[REJECTED] == [Rejection("sub/a.txt.gz:1", "empty"), Rejection("sub/a.txt.gz:2", "invalid_utf8")]
    assert tagged["counts"] == [{"files_read": 1, "documents_read": 4, "documents_rejected.empty": 1,
                                 "documents_rejected.invalid_utf8": 1}]


def test_a_file_failing_midway_emits_no_document_at_all(tmp_path):
    packed = gzip.compress(b"".join(b"line %d\n" % i for i in range(5000)))
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(packed[: len(packed) // 2])
    fn = ReadFileFn(documents="line", text_field="text", max_document_bytes=100)
    main, tagged = run(fn, InputFile(str(path), "cut.txt.gz", "text", "gzip", 10))
    assert main == [] and REJECTED not in tagged
    [rejection] = tagged[FILES_REJECTED]
    assert (rejection.path, rejection.reason) == (str(path), "unreadable_file")
    assert tagged["counts"] == [{"files_rejected": 1}]


def test_tokenize_loads_the_model_from_bytes_once_and_rejects_documents_without_tokens(llama_model_path):
    fn = TokenizeDocumentsFn(llama_model_path.read_bytes(), name=llama_model_path.name)
    fn = pickle.loads(pickle.dumps(fn))  # as a runner ships it: bytes, no loaded model
    fn.setup()
    tokenizer = fn._tokenizer
    fn.setup()
    assert fn._tokenizer is tokenizer
    main, tagged = run(fn, [Document("a:0", "Hello world. Second sentence."), Document("a:1", "")])
    [[doc]] = main  # the batch stays one element
    assert isinstance(doc, TokenizedDocument) and doc.key == "a:0" and doc.ids.dtype.name == "int32"
    assert doc.sentence_ends.tolist()[-1] == len(doc.ids) and len(doc.sentence_ends) == 2
    assert tagged[REJECTED] == [Rejection("a:1", "no_tokens")]
    assert tagged["counts"] == [{"documents_used": 1, "tokens": len(doc.ids), "documents_rejected.no_tokens": 1}]
