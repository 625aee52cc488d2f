"""The engines of `couchctl bulk load` and `couchctl bulk dump`. No printing here.

    documents   what `_bulk_docs` takes (checked before anything is sent)
    input       JSON Lines or a JSON array, read in constant memory, linear time
    journal     the record of a load that `--resume` continues from
    loader      batches to `_bulk_docs`, concurrent, ids assigned before sending
    job         one load from start to end: input, journal, rejects
    dumper      every document as JSON Lines in id order, ranges fetched concurrently

Every request goes through `couchctl.client`, whose one retry layer (`retries`,
backoff, `Retry-After`) is the only one: the engines never retry around it.
"""

from couchctl.bulk.check import InputCheck, check_input
from couchctl.bulk.documents import (
    SPECIAL_MEMBERS,
    InputError,
    bulk_docs_request,
    bulk_get_rows,
    check_document,
    parse_doc_ref,
)
from couchctl.bulk.dumper import DumpOptions, DumpSummary, Emit, dump
from couchctl.bulk.input import Record, iter_records
from couchctl.bulk.job import JOURNAL_SUFFIX, LoadJob, RejectLog, plan_load, run_load
from couchctl.bulk.journal import Journal, JournalError, JournalState
from couchctl.bulk.loader import (
    MAX_BATCH_BYTES,
    LoadOptions,
    LoadSummary,
    Reject,
    batch_body,
    load,
)

__all__ = [
    "JOURNAL_SUFFIX",
    "MAX_BATCH_BYTES",
    "SPECIAL_MEMBERS",
    "DumpOptions",
    "DumpSummary",
    "Emit",
    "InputCheck",
    "InputError",
    "Journal",
    "JournalError",
    "JournalState",
    "LoadJob",
    "LoadOptions",
    "LoadSummary",
    "Record",
    "Reject",
    "RejectLog",
    "batch_body",
    "bulk_docs_request",
    "bulk_get_rows",
    "check_document",
    "check_input",
    "dump",
    "iter_records",
    "load",
    "parse_doc_ref",
    "plan_load",
    "run_load",
]
