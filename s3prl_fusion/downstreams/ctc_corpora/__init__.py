"""Readers of s3prl's ``ctc`` task for the corpora its wheel has no reader for (``ctc/data.py``
imports ``.corpus.<name>``, a folder missing from the s3prl wheel): ``libriphone`` (SUPERB phone
recognition) and ``snips`` (SUPERB slot filling). The adapter registers them as
``s3prl.downstream.ctc.corpus.<name>`` (``s3prl_adapter/patches/ctc_task.py``)."""
