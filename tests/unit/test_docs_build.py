"""``make docs``'s reference check: a Sphinx role that names nothing is caught (pdoc alone renders it silently)."""
import importlib.util
import types
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs" / "build_api.py"
spec = importlib.util.spec_from_file_location("build_api", DOCS)
build_api = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_api)


def test_references_resolve_by_dotted_path_by_local_name_or_not_at_all():
    module = types.ModuleType("lmpairs.fake")
    module.helper = lambda: None
    assert build_api.resolves("lmpairs.build", module, {})
    assert build_api.resolves("lmpairs.config.BuildConfig.with_seq_len", module, {})
    assert build_api.resolves("helper", module, {})
    assert build_api.resolves("torch.Tensor", module, {})  # other packages are theirs to check
    assert not build_api.resolves("lmpairs.config.NoSuchThing", module, {})
    assert not build_api.resolves("nowhere", module, {})
    assert build_api.resolves("position", module, {"position": [object()]})  # defined elsewhere in lmpairs


def test_role_pattern_reads_the_target():
    text = "See :func:`~lmpairs.api.build` and :meth:`Tokenizer.encode_documents()`, not ``code``."
    assert [m.group(1) for m in build_api.ROLE.finditer(text)] == ["lmpairs.api.build", "Tokenizer.encode_documents"]


def test_every_module_is_handed_to_pdoc_once():
    specs = build_api.page_specs(["lmpairs", "lmpairs.config", "lmpairs.loader", "lmpairs.loader.losses"])
    assert specs == ["lmpairs", "lmpairs.config", "lmpairs.loader"]  # losses is in lmpairs.loader.__all__
