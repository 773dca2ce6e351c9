"""Where each SUPERB task's prediction file comes from and where the leaderboard expects it: a
written-down reading of s3prl's ``s3prl/submit/submit.py`` (s3prl 0.4.18's source repository; the
wheel does not ship it).

``submit.py`` copies one file (SD: one folder) from each task's experiment folder into
``<output>/predict/<entry>/`` and zips ``predict/`` into ``predict.zip``. The entries, with the task
folder ``recipes/superb.sh`` gives each task's experiment under its output folder:

| task folder | leaderboard entry | source in the experiment folder | target in the zip                              |
|-------------|-------------------|----------------------------------|------------------------------------------------|
| pr          | pr_public         | test-hyp.ark                     | predict/pr_public/predict.ark                  |
| sid         | sid_public        | test_predict.txt                 | predict/sid_public/predict.txt                 |
| ks          | ks_public         | test_predict.txt                 | predict/ks_public/predict.txt                  |
| ic          | ic_public         | test_predict.csv                 | predict/ic_public/predict.csv                  |
| er          | er_fold{k}_public | fold{k}/test_fold{k}_predict.txt | predict/er_fold{k}_public/predict.txt, k = 1..5 |
| asr         | asr_public        | test-clean-noLM-hyp.ark          | predict/asr_public/predict.ark                 |
| asr         | asr_lm_public     | test-clean-LM-hyp.ark            | predict/asr_lm_public/predict.ark              |
| qbe         | qbe_public        | benchmark.stdlist.xml            | predict/qbe_public/benchmark.stdlist.xml       |
| sf          | sf_public         | test-hyp.ark                     | predict/sf_public/predict.ark                  |
| asv         | sv_public         | test_predict.txt                 | predict/sv_public/predict.txt                  |
| sd          | sd_public         | scoring/predictions/ (a folder)  | predict/sd_public/scoring/predictions/         |
| sd          | sd_public         | frame_shift (copied if present)  | predict/sd_public/frame_shift                  |

ER's five folds are five entries, each from its own fold's experiment folder (``submit.py`` takes
``--er_fold1`` .. ``--er_fold5``); the leaderboard scores ER only when all five are submitted
(``submit.py`` warns otherwise). SD's ``frame_shift`` is the label frame shift s3prl's diarization
expert writes into its experiment folder (the upstream's downsample rate unless the config sets
one). SUPERB-SG's SE / SS (``test_metrics.txt`` -> ``metrics.txt``) and ST (``output-st-test.tsv``
-> ``predict.tsv``) are not SUPERB's ten tasks and are left out.
"""
from __future__ import annotations

from dataclasses import dataclass

TASK_FOLDERS = ("pr", "ks", "ic", "sid", "er", "asr", "qbe", "sf", "asv", "sd")
ER_FOLDS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Entry:
    """One file (or folder) of the submission: ``source`` relative to the task's experiment folder,
    ``target`` relative to the zip's root, ``kind`` names its format check (``formats.CHECKS``);
    ``optional``: copied when present, as ``submit.py`` does with SD's frame_shift."""

    task: str
    name: str
    source: str
    target: str
    kind: str
    optional: bool = False


ENTRIES = (
    Entry("pr", "pr_public", "test-hyp.ark", "predict/pr_public/predict.ark", "text_ark"),
    Entry("sid", "sid_public", "test_predict.txt", "predict/sid_public/predict.txt", "speaker_labels"),
    Entry("ks", "ks_public", "test_predict.txt", "predict/ks_public/predict.txt", "keyword_labels"),
    Entry("ic", "ic_public", "test_predict.csv", "predict/ic_public/predict.csv", "intent_csv"),
    *(Entry("er", f"er_fold{fold}_public", f"fold{fold}/test_fold{fold}_predict.txt", f"predict/er_fold{fold}_public/predict.txt", "emotion_labels")
      for fold in ER_FOLDS),
    Entry("asr", "asr_public", "test-clean-noLM-hyp.ark", "predict/asr_public/predict.ark", "text_ark"),
    Entry("asr", "asr_lm_public", "test-clean-LM-hyp.ark", "predict/asr_lm_public/predict.ark", "text_ark"),
    Entry("qbe", "qbe_public", "benchmark.stdlist.xml", "predict/qbe_public/benchmark.stdlist.xml", "stdlist_xml"),
    Entry("sf", "sf_public", "test-hyp.ark", "predict/sf_public/predict.ark", "text_ark"),
    Entry("asv", "sv_public", "test_predict.txt", "predict/sv_public/predict.txt", "trial_scores"),
    Entry("sd", "sd_public", "scoring/predictions", "predict/sd_public/scoring/predictions", "diarization_predictions"),
    Entry("sd", "sd_public", "frame_shift", "predict/sd_public/frame_shift", "frame_shift", optional=True),
)
