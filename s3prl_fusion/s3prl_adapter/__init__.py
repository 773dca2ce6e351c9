"""The one place where the plugin touches s3prl: everything it changes in s3prl is here.

It has two floors, one per direction:

- ``internals/``: the plugin's door out to s3prl's internals (its hub's upstreams, the facts of
  its task code, the patch targets and their checks). It imports no other room of the plugin
  but ``errors``, so the upstreams and the cache may use it.
- ``patches/``: s3prl's door into the plugin (the post-import hooks, the hub registration, the
  runner, script and task patches). It sits on the top floor and may import every room.
- ``nn.py``: ``s3prl.nn``'s classes subclassed for the Python API (``s3prl_fusion.nn``).

s3prl's files are never edited. A ``.pth`` file imports ``s3prl_fusion``, which installs
post-import hooks (``patches/hooks.py``); each s3prl module below is changed the moment it is
first imported, after the adapter checks that the installed s3prl has the functions, parameters
and code the change was written for (``internals/targets.py``: tested on s3prl 0.4.17 and 0.4.18;
any other form stops the run with a message naming the patch, before anything is patched).

=========================================  ================================================
s3prl module                               what changes (module of ``patches/``)
=========================================  ================================================
``s3prl.hub``                              the plugin's upstream names added (``registration``)
``s3prl.downstream.runner``                ``Runner.__init__`` / ``_get_featurizer`` /
                                           ``_get_downstream`` / ``train`` / ``evaluate``, and
                                           the module's ``torch.save``, ``os.remove``, ``DDP``
                                           (``runner``, with ``run_checks``, ``batch_names``,
                                           ``distributed``)
``s3prl.run_downstream`` (or the script    its arguments (``-a``, ``-e``, ``--local_rank``
of a checkout)                             under torchrun) and, without CUDA, its
                                           ``torch.cuda.set_device`` (``script``)
``s3prl.downstream.sv_voxceleb1.dataset``  ``SpeakerVerifi_train.__init__`` (``sv_task``)
``s3prl.downstream.sv_voxceleb1.expert``   ``DownstreamExpert.forward`` / ``log_records``
                                           (``sv_task``)
``s3prl.downstream.ctc.data``              ``load_dataset`` (keeps ``num_workers``); the
                                           plugin's ``libriphone`` / ``snips`` readers as
                                           ``s3prl.downstream.ctc.corpus.*`` (``ctc_task``)
``s3prl.downstream.asr.expert``            ``get_decoder``: KenLM settings checked, s3prl's
                                           ``unk_weight: -math.inf`` read (``asr_task``)
``s3prl.downstream.speech_commands.expert``  nothing; while it executes, a stand-in for
                                           catalyst's ``DistributedSamplerWrapper`` when
                                           catalyst is missing (``speech_commands_task``)
``s3prl.downstream.voxceleb1.dataset``     ``SpeakerClassifiDataset.__init__``: file lists
                                           cached per data folder and split file
                                           (``voxceleb1_task``)
``s3prl.nn``                               ``S3PRLUpstream`` subclassed, not changed (``nn``)
``s3prl.upstream.wavlm.WavLM``,            on a fused member's model objects, never the
``s3prl.upstream.hubert.hubert_model``,    classes: WavLM / HuBERT's ``forward_padding_mask``
``s3prl.upstream.wav2vec2.wav2vec2_model`` replaced, hooks on Data2Vec's stacked positional
``s3prl.upstream.baseline.expert``         convs; ``mel`` / ``linear`` run one utterance at a
                                           time (``internals/hub_models``, checked when
                                           such a member is built)
=========================================  ================================================

What newer torch / torchaudio / huggingface_hub broke in s3prl is ``s3prl_fusion.compat``'s job,
not this package's. ``internals/hub.py`` is how the rest of the plugin reaches s3prl's hub upstreams.
"""
