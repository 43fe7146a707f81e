"""Learned suggestions (issue 6): a text classifier trained on people's codings.

One job per module, in the order the data flows:

- ``data``: the training data: a people's layer's examples and labels, folds by source,
  code groups;
- ``classifiers``: the classifiers (spaCy's bag-of-words textcat, a TF-IDF logistic
  regression, and a second one on each segment's context) in one spaCy pipeline, fitted and scored;
- ``embeddings``: the optional fourth classifier, on offline sentence embeddings (the
  ``qualkam[embeddings]`` extra; ``train(..., embeddings=True)``);
- ``calibration``: Platt scaling of the classifiers' scores and each code's threshold;
- ``training``: ``train``: cross-validation by source, honest figures, the stored version;
  ``out_of_fold``: any other classifier's held-out predictions on the same folds;
- ``curve``: the learning curve, held-out figures against the number of coded segments;
- ``machine``: the machine as a named coder, its agreement with each person per code;
- ``model``: the stored model, loaded to suggest codes with similar coded segments as evidence;
- ``prior``: the codebook as training signal: its texts as weighted examples beside people's
  codings, and a model from the codebook alone (``qualkam train --from codebook``).

The public names are importable from here (``from qualkam.coding.learn import train``); each
is imported from its module when first asked for, so importing this package loads neither
spaCy nor scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qualkam.coding.learn.calibration import (
        DEFAULT_THRESHOLD,
        MIN_PRECISION,
        NEVER,
        best_threshold,
        calibrate,
        platt,
    )
    from qualkam.coding.learn.curve import Curve, CurvePoint, learning_curve
    from qualkam.coding.learn.data import (
        TrainingSet,
        assign_folds,
        code_groups,
        group_attribute,
        grouping,
        layer_coders,
        segment_folds,
        training_set,
    )
    from qualkam.coding.learn.model import (
        EVIDENCE_CHARS,
        EVIDENCE_ITEMS,
        Model,
        ModelSuggestion,
        NoModelError,
        SimilarSegment,
        latest_thresholds,
        load_model,
        model_input,
        model_rows,
    )
    from qualkam.coding.learn.training import (
        DEFAULT_EPOCHS,
        Progress,
        TrainResult,
        cross_validate,
        evaluate_folds,
        held_out_predictions,
        out_of_fold,
        rule_predictions,
        train,
    )

__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_THRESHOLD",
    "MIN_PRECISION",
    "NEVER",
    "Curve",
    "CurvePoint",
    "EVIDENCE_CHARS",
    "EVIDENCE_ITEMS",
    "Model",
    "ModelSuggestion",
    "NoModelError",
    "Progress",
    "SimilarSegment",
    "TrainResult",
    "TrainingSet",
    "assign_folds",
    "best_threshold",
    "calibrate",
    "code_groups",
    "cross_validate",
    "evaluate_folds",
    "group_attribute",
    "held_out_predictions",
    "learning_curve",
    "grouping",
    "latest_thresholds",
    "layer_coders",
    "load_model",
    "model_input",
    "model_rows",
    "out_of_fold",
    "platt",
    "rule_predictions",
    "segment_folds",
    "train",
    "training_set",
]

# The module each public name lives in.
_MODULE_OF = {
    "DEFAULT_THRESHOLD": "calibration",
    "MIN_PRECISION": "calibration",
    "NEVER": "calibration",
    "Curve": "curve",
    "CurvePoint": "curve",
    "learning_curve": "curve",
    "best_threshold": "calibration",
    "calibrate": "calibration",
    "platt": "calibration",
    "TrainingSet": "data",
    "assign_folds": "data",
    "code_groups": "data",
    "group_attribute": "data",
    "grouping": "data",
    "layer_coders": "data",
    "segment_folds": "data",
    "training_set": "data",
    "EVIDENCE_CHARS": "model",
    "EVIDENCE_ITEMS": "model",
    "Model": "model",
    "ModelSuggestion": "model",
    "NoModelError": "model",
    "SimilarSegment": "model",
    "latest_thresholds": "model",
    "load_model": "model",
    "model_input": "model",
    "model_rows": "model",
    "DEFAULT_EPOCHS": "training",
    "Progress": "training",
    "TrainResult": "training",
    "cross_validate": "training",
    "evaluate_folds": "training",
    "held_out_predictions": "training",
    "out_of_fold": "training",
    "rule_predictions": "training",
    "train": "training",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULE_OF])
