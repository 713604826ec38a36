"""Models the product saves: written atomically to the store, SHA-256 kept in the database, loaded only when the
file's checksum matches. And the model a job starts from (``InitialActiveLearningModelArn``).

A saved model is ``<job folder>/training/<iteration>/model.npz`` (``classifier.LinearModel``, ``maphead.MapHead``,
``detector.BoxModel`` or ``segmenter.SegModel`` arrays, read with ``allow_pickle=False``). Its URI is the job's
``LabelingJobOutput.FinalActiveLearningModelArn``. Given back as ``InitialActiveLearningModelArn``, a URI that
is a saved model (in ``autolabel_models``, checksum matching) is loaded as the product's own; any other URI
must be an ONNX file (``onnx_models``): nothing else a user names is ever read as a model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.errors import GTError, StorageError

M = dbm.autolabel_models


class ModelError(GTError):
    """A model cannot be used (not ONNX, wrong shape, checksum mismatch, crash): the job goes on with people."""


@dataclass(frozen=True)
class SavedModel:
    id: int
    uri: str
    sha256: str
    kind: str
    task_type: str


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save(ctx: Context, job_id: int, iteration: int, folder: str, kind: str, task_type: str, data: bytes) -> SavedModel:
    """Write the model file (tmp then rename) and record its checksum; idempotent per (job, iteration)."""
    uri = ctx.storage.join(folder, "training", str(iteration), "model.npz")
    digest = sha256(data)
    ctx.storage.write_bytes(uri, data)
    with ctx.db.write() as conn:
        row = conn.execute(select(M).where(M.c.job_id == job_id, M.c.iteration == iteration)).first()
        if row is not None:
            conn.execute(M.update().where(M.c.id == row.id).values(uri=uri, sha256=digest, kind=kind))
            model_id = int(row.id)
        else:
            res = conn.execute(
                M.insert().values(
                    job_id=job_id,
                    iteration=iteration,
                    uri=uri,
                    sha256=digest,
                    kind=kind,
                    task_type=task_type,
                    created_at=dbm.now(),
                )
            )
            model_id = int(res.inserted_primary_key[0])  # type: ignore[index]
    return SavedModel(model_id, uri, digest, kind, task_type)


def find(ctx: Context, uri: str) -> SavedModel | None:
    """The product's saved model at ``uri`` (normalised), if it is one."""
    try:
        norm = ctx.storage.normalize(uri)
    except (StorageError, GTError):
        return None
    with ctx.db.read() as conn:
        row = conn.execute(select(M).where(M.c.uri.in_([uri, norm])).order_by(M.c.id.desc())).first()
    if row is None:
        return None
    return SavedModel(int(row.id), str(row.uri), str(row.sha256), str(row.kind), str(row.task_type))


def by_id(ctx: Context, model_id: int) -> SavedModel | None:
    with ctx.db.read() as conn:
        row = conn.execute(select(M).where(M.c.id == model_id)).first()
    return (
        None
        if row is None
        else SavedModel(int(row.id), str(row.uri), str(row.sha256), str(row.kind), str(row.task_type))
    )


def load(ctx: Context, saved: SavedModel) -> Any:
    """The model object, only after the file's SHA-256 matched the one recorded when it was saved."""
    try:
        data = ctx.storage.read_bytes(saved.uri)
    except StorageError as exc:
        raise ModelError(f"{saved.uri}: cannot read the saved model ({exc})") from exc
    if sha256(data) != saved.sha256:
        raise ModelError(
            f"{saved.uri}: the file's SHA-256 does not match the one recorded when it was saved; not loaded"
        )
    from gtcore.autolabel import (  # here: they use this module's ModelError
        boxnet,
        classifier,
        detector,
        maphead,
        segmenter,
    )

    try:
        if saved.kind == "builtin-detector":
            return boxnet.BoxNet.from_bytes(data) if boxnet.is_boxnet(data) else detector.BoxModel.from_bytes(data)
        if saved.kind == "builtin-segmenter":
            return segmenter.SegModel.from_bytes(data)
        if saved.kind == maphead.KIND:
            return maphead.MapHead.from_bytes(data)
        if saved.kind == "builtin-text":
            from gtcore.autolabel.text import TextModel

            return TextModel.from_bytes(data)
        return classifier.LinearModel.from_bytes(data)
    except (ValueError, KeyError, OSError) as exc:
        raise ModelError(f"{saved.uri}: not a readable saved model ({exc})") from exc
