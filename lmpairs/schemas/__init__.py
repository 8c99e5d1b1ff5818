"""The contract shared by pipeline and loader: row schemas per objective and the manifest."""
from lmpairs.schemas.manifest import (
                                      MANIFEST_NAME,
                                      SIDES,
                                      SPLITS,
                                      Manifest,
                                      ManifestError,
                                      ShardInfo,
                                      manifest_path,
                                      read_manifest,
                                      resolve,
                                      validate_manifest,
                                      write_manifest,
)
from lmpairs.schemas.rows import (
                                      FORMAT_VERSION,
                                      SchemaError,
                                      check_schema,
                                      list_columns,
                                      list_to_numpy,
                                      row_schema,
                                      rows_to_table,
)

__all__ = ["FORMAT_VERSION", "MANIFEST_NAME", "SIDES", "SPLITS", "Manifest", "ManifestError", "SchemaError",
           "ShardInfo", "check_schema", "list_columns", "list_to_numpy", "manifest_path", "read_manifest", "resolve",
           "row_schema", "rows_to_table", "validate_manifest", "write_manifest"]
