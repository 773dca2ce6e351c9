#!/usr/bin/env bash
# Table I of the paper (base models): every row on LS ASR, ML-SUPERB Mono-1h / Multi-1h, SV, ER.
#   recipes/table1.sh OUT_DIR          (environment: see recipes/table_lib.sh)
# Rows: single WavLM Base+ and Whisper Small with WS and HConv; HuBERT+WavLM with each
# interface; Whisper + the best SSL model with each interface; Whisper + the best two SSL
# models with HConv. "Best" is our reading (WavLM; HuBERT and WavLM); choose other presets with
#   WHISPER_BEST_SSL (default fused_wavlm_whisper), WHISPER_BEST_2_SSL (default fused_hubert_wavlm_whisper)
source "$(dirname "$0")/table_lib.sh"
TABLE_TITLE="table1"
WHISPER_BEST_SSL="${WHISPER_BEST_SSL:-fused_wavlm_whisper}"
WHISPER_BEST_2_SSL="${WHISPER_BEST_2_SSL:-fused_hubert_wavlm_whisper}"
TABLE_ROWS="
wavlm-ws                   ws      hf_ssl                 microsoft/wavlm-base-plus
wavlm-hconv                hconv   hf_ssl                 microsoft/wavlm-base-plus
whisper-ws                 ws      whisper_small
whisper-hconv              hconv   whisper_small
hubert_wavlm-ws            ws      fused_hubert_wavlm
hubert_wavlm-gumd          gumd    fused_hubert_wavlm
hubert_wavlm-hconv         hconv   fused_hubert_wavlm
hubert_wavlm-chconv        chconv  fused_hubert_wavlm
whisper_best_ssl-ws        ws      $WHISPER_BEST_SSL
whisper_best_ssl-gumd      gumd    $WHISPER_BEST_SSL
whisper_best_ssl-hconv     hconv   $WHISPER_BEST_SSL
whisper_best_ssl-chconv    chconv  $WHISPER_BEST_SSL
whisper_best_2_ssl-hconv   hconv   $WHISPER_BEST_2_SSL
"
table_main "$@"
