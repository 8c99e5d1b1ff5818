"""``BeamFiles``: corpus reading's FileAccess through Beam's FileSystems (local, gs://, s3://, hdfs://).

Globs are matched by Beam (sizes come with the listing, so planning splits opens nothing); files
are opened with ``CompressionTypes.UNCOMPRESSED`` because :mod:`lmpairs.reading` decompresses
strictly itself and seeks into uncompressed files for byte-range splits.
"""
from __future__ import annotations

import os
import stat
from typing import BinaryIO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from lmpairs.reading import FileMatch


class BeamFiles:
    """:class:`lmpairs.reading.FileAccess` over Beam's ``FileSystems``.

    Object stores hold only regular objects; a local match is checked with ``stat`` (never
    opened), so FIFOs and devices are reported as non-regular and directories are left out.
    """

    def match(self, glob: str) -> list[FileMatch]:
        found = []
        for meta in FileSystems.match([glob])[0].metadata_list:
            if "://" in meta.path and not meta.path.startswith("file://"):
                found.append(FileMatch(meta.path, int(meta.size_in_bytes), True))
                continue
            try:
                st = os.stat(meta.path)
            except FileNotFoundError:
                continue  # gone since listing, or a dangling link
            if not stat.S_ISDIR(st.st_mode):
                found.append(FileMatch(meta.path, st.st_size, stat.S_ISREG(st.st_mode)))
        return found

    def open(self, path: str) -> BinaryIO:
        return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
