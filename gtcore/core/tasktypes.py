"""Task types: the names, Ground Truth identifiers and limits each built-in type carries.

One registry shared by job specs, the queue, consolidation, output and the pages. Per-type logic
(answer schema, consolidation, output record) lives in modules of its own beside this one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskType:
    name: str  # our plain name, also accepted as HumanTaskConfig.TaskType
    lambda_suffix: str  # PRE-<suffix> / ACS-<suffix> in Ground Truth's Lambda ARNs
    output_type: str  # the "type" written in <attr>-metadata
    title: str  # shown to team leads
    min_labels: int
    max_labels: int  # API limit (console limit for unlimited types)
    answer_element: str  # answerContent key in worker-response files
    supports_auto_labeling: bool
    is_adjustment: bool = False
    draws_boxes: bool = False
    multi_choice: bool = False
    paints_mask: bool = False  # semantic segmentation: a class-index mask, attribute ends in -ref
    verifies: bool = False  # label verification: judge an earlier attribute's labels
    text: bool = False  # the object is text (inline "source", or a source-ref to a UTF-8 text file)
    marks_spans: bool = False  # named entity recognition: labeled character spans of the text


BOUNDING_BOX = TaskType(
    name="BoundingBox",
    lambda_suffix="BoundingBox",
    output_type="groundtruth/object-detection",
    title="Bounding box",
    min_labels=1,
    max_labels=50,
    answer_element="boundingBox",
    supports_auto_labeling=True,
    draws_boxes=True,
)
IMAGE_CLASSIFICATION = TaskType(
    name="ImageClassification",
    lambda_suffix="ImageMultiClass",
    output_type="groundtruth/image-classification",
    title="Image classification (single label)",
    min_labels=2,
    max_labels=30,
    answer_element="crowd-image-classifier",
    supports_auto_labeling=True,
)
IMAGE_MULTI_LABEL = TaskType(
    name="ImageMultiClassification",
    lambda_suffix="ImageMultiClassMultiLabel",
    output_type="groundtruth/image-classification-multilabel",
    title="Image classification (multi-label)",
    min_labels=2,
    max_labels=50,
    answer_element="crowd-image-classifier-multi-select",
    supports_auto_labeling=False,
    multi_choice=True,
)
ADJUSTMENT_BOUNDING_BOX = TaskType(
    name="AdjustmentBoundingBox",
    lambda_suffix="AdjustmentBoundingBox",
    output_type="groundtruth/object-detection",
    title="Bounding box adjustment",
    min_labels=1,
    max_labels=50,
    answer_element="boundingBox",
    supports_auto_labeling=False,
    is_adjustment=True,
    draws_boxes=True,
)
SEMANTIC_SEGMENTATION = TaskType(
    name="SemanticSegmentation",
    lambda_suffix="SemanticSegmentation",
    output_type="groundtruth/semantic-segmentation",
    title="Semantic segmentation",
    min_labels=1,
    max_labels=10,  # console limit (the API has none without automated labeling), reference section 9
    answer_element="crowd-semantic-segmentation",
    supports_auto_labeling=True,
    paints_mask=True,
)
ADJUSTMENT_SEMANTIC_SEGMENTATION = TaskType(
    name="AdjustmentSemanticSegmentation",
    lambda_suffix="AdjustmentSemanticSegmentation",
    output_type="groundtruth/semantic-segmentation",
    title="Semantic segmentation adjustment",
    min_labels=1,
    max_labels=10,
    answer_element="crowd-semantic-segmentation",
    supports_auto_labeling=False,
    is_adjustment=True,
    paints_mask=True,
)
# Verification answers use the classifier element (label + optional workerComment), our choice: Ground Truth
# documents only the output (reference 1.6), whose consolidation is the classification EM.
VERIFICATION_BOUNDING_BOX = TaskType(
    name="VerificationBoundingBox",
    lambda_suffix="VerificationBoundingBox",
    output_type="groundtruth/label-verification",
    title="Label verification (bounding boxes)",
    min_labels=2,
    max_labels=30,
    answer_element="crowd-image-classifier",
    supports_auto_labeling=False,
    verifies=True,
)
VERIFICATION_SEMANTIC_SEGMENTATION = TaskType(
    name="VerificationSemanticSegmentation",
    lambda_suffix="VerificationSemanticSegmentation",
    output_type="groundtruth/label-verification",
    title="Label verification (semantic segmentation)",
    min_labels=2,
    max_labels=30,
    answer_element="crowd-image-classifier",
    supports_auto_labeling=False,
    verifies=True,
)

TEXT_CLASSIFICATION = TaskType(
    name="TextClassification",
    lambda_suffix="TextMultiClass",
    output_type="groundtruth/text-classification",
    title="Text classification (single label)",
    min_labels=2,
    max_labels=30,  # console limit (the API has none), reference section 9
    answer_element="crowd-classifier",
    supports_auto_labeling=True,
    text=True,
)
TEXT_MULTI_LABEL = TaskType(
    name="TextMultiClassification",
    lambda_suffix="TextMultiClassMultiLabel",
    output_type="groundtruth/text-classification-multilabel",
    title="Text classification (multi-label)",
    min_labels=2,
    max_labels=50,
    answer_element="crowd-classifier-multi-select",
    supports_auto_labeling=False,
    multi_choice=True,
    text=True,
)
NAMED_ENTITY_RECOGNITION = TaskType(
    name="NamedEntityRecognition",
    lambda_suffix="NamedEntityRecognition",
    output_type="groundtruth/text-span",
    title="Named entity recognition",
    min_labels=1,
    max_labels=30,  # console limit (the API has none), reference section 9
    answer_element="crowd-entity-annotation",
    supports_auto_labeling=False,
    text=True,
    marks_spans=True,
)
# Ground Truth's NER jobs name their worker UI by ARN (reference 1.8): ...:394669845002:human-task-ui/<this>
NER_HUMAN_TASK_UI = "NamedEntityRecognition"

TASK_TYPES: dict[str, TaskType] = {
    t.name: t
    for t in (
        BOUNDING_BOX,
        IMAGE_CLASSIFICATION,
        IMAGE_MULTI_LABEL,
        ADJUSTMENT_BOUNDING_BOX,
        SEMANTIC_SEGMENTATION,
        ADJUSTMENT_SEMANTIC_SEGMENTATION,
        VERIFICATION_BOUNDING_BOX,
        VERIFICATION_SEMANTIC_SEGMENTATION,
        TEXT_CLASSIFICATION,
        TEXT_MULTI_LABEL,
        NAMED_ENTITY_RECOGNITION,
    )
}
_BY_SUFFIX = {t.lambda_suffix: t for t in TASK_TYPES.values()}

# Types a team lead can pick when creating a job from scratch (adjustment is created by chaining; verification
# from scratch needs an input manifest that already holds the attribute to verify).
CREATABLE = (
    BOUNDING_BOX,
    IMAGE_CLASSIFICATION,
    IMAGE_MULTI_LABEL,
    SEMANTIC_SEGMENTATION,
    VERIFICATION_BOUNDING_BOX,
    VERIFICATION_SEMANTIC_SEGMENTATION,
    TEXT_CLASSIFICATION,
    TEXT_MULTI_LABEL,
    NAMED_ENTITY_RECOGNITION,
)
# The output type of the attribute each verification / adjustment type works on.
SOURCE_OUTPUT_TYPE = {
    ADJUSTMENT_BOUNDING_BOX.name: BOUNDING_BOX.output_type,
    VERIFICATION_BOUNDING_BOX.name: BOUNDING_BOX.output_type,
    ADJUSTMENT_SEMANTIC_SEGMENTATION.name: SEMANTIC_SEGMENTATION.output_type,
    VERIFICATION_SEMANTIC_SEGMENTATION.name: SEMANTIC_SEGMENTATION.output_type,
}

# What a new job of each type says until the team lead writes their own: (title, description = the short
# instructions on the task screen, time limit in seconds). The Create job form and chaining both follow it.
DEFAULT_TEXTS: dict[str, tuple[str, str, int]] = {
    "BoundingBox": ("Draw a box around each object", "Draw a tight box around every object of each label.", 3600),
    "AdjustmentBoundingBox": ("Adjust the boxes", "Move, resize, relabel, add or delete boxes so each is tight.", 3600),
    "ImageClassification": ("Choose the label of the image", "Pick the one label that best describes the image.", 300),
    "ImageMultiClassification": (
        "Choose every label that applies",
        "Pick all the labels that describe the image.",
        300,
    ),
    "SemanticSegmentation": ("Paint every object", "Paint each object's pixels with its label.", 3600),
    "AdjustmentSemanticSegmentation": ("Correct the mask", "Repaint or erase pixels so each label is exact.", 3600),
    "VerificationBoundingBox": ("Check the boxes", "Say whether the boxes are right; comment if not.", 300),
    "VerificationSemanticSegmentation": ("Check the mask", "Say whether the mask is right; comment if not.", 300),
    "TextClassification": ("Choose the label of the text", "Read the text and pick the one label that fits it.", 300),
    "TextMultiClassification": (
        "Choose every label that applies to the text",
        "Read the text and pick all the labels that describe it.",
        300,
    ),
    "NamedEntityRecognition": (
        "Mark the named entities",
        "Select every name in the text and give it its label (keys 1-9, 0).",
        600,
    ),
}


def default_texts(name: str) -> tuple[str, str, int]:
    """(title, description, time limit) a job of type ``name`` starts with (bounding box's for unknown names)."""
    return DEFAULT_TEXTS.get(name, DEFAULT_TEXTS[BOUNDING_BOX.name])


def chain_targets(source: str) -> list[str]:
    """The task types a job chained from a ``source`` job may have: the same, or its adjustment or verification."""
    boxes = (BOUNDING_BOX.name, ADJUSTMENT_BOUNDING_BOX.name)
    masks = (SEMANTIC_SEGMENTATION.name, ADJUSTMENT_SEMANTIC_SEGMENTATION.name)
    if source in boxes:
        extra = [ADJUSTMENT_BOUNDING_BOX.name, VERIFICATION_BOUNDING_BOX.name]
    elif source in masks:
        extra = [ADJUSTMENT_SEMANTIC_SEGMENTATION.name, VERIFICATION_SEMANTIC_SEGMENTATION.name]
    else:
        extra = []
    return list(dict.fromkeys([source, *extra]))


def needs_ref_suffix(tt: TaskType) -> bool:
    """Whether the LabelAttributeName must end in ``-ref`` (semseg and its adjustment, not its verification)."""
    return tt.paints_mask


def get(name: str) -> TaskType:
    """Look a task type up by our name, or None-safe KeyError with the known names."""
    try:
        return TASK_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown task type {name!r}; known: {', '.join(TASK_TYPES)}") from None


def from_lambda_arn(arn: str) -> TaskType | None:
    """``arn:aws:lambda:us-east-1:432418664414:function:PRE-BoundingBox`` -> BOUNDING_BOX."""
    tail = arn.rsplit(":", 1)[-1]
    for prefix in ("PRE-", "ACS-"):
        if tail.startswith(prefix):
            return _BY_SUFFIX.get(tail[len(prefix) :])
    return None
